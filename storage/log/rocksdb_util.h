// Small RocksDB helpers of the commit log (the only files here besides log_state*.cc and
// partitioned_log.cc that see RocksDB types). Thread-safe as RocksDB is.
#ifndef SLUICE_STORAGE_LOG_ROCKSDB_UTIL_H_
#define SLUICE_STORAGE_LOG_ROCKSDB_UTIL_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "cluster/storage/rocksdb_log_store.h"

namespace rocksdb {
class DB;
}

namespace sluice::storage {

using raftstore::FromRocksDb;

// Calls `fn(key, value)` for every key in [lo, hi) in order; stops at the first error.
absl::Status ScanPrefix(rocksdb::DB* db, const std::string& lo, const std::string& hi,
                        const std::function<absl::Status(std::string_view, std::string_view)>& fn);

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_ROCKSDB_UTIL_H_
