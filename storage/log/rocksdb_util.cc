#include "storage/log/rocksdb_util.h"

#include <memory>

#include "base/status.h"
#include "rocksdb/db.h"

namespace sluice::storage {

absl::Status ScanPrefix(rocksdb::DB* db, const std::string& lo, const std::string& hi,
                        const std::function<absl::Status(std::string_view, std::string_view)>& fn) {
  rocksdb::Slice upper(hi);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    RETURN_IF_ERROR(fn(std::string_view(it->key().data(), it->key().size()),
                       std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocksDb(it->status());
}

}  // namespace sluice::storage
