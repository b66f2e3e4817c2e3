#include "storage/testing/fault_injection_env.h"

#include <filesystem>
#include <optional>
#include <utility>

namespace sluice::storage::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

class File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(FaultInjectionFs* fs, std::string name, std::unique_ptr<rocksdb::FSWritableFile> t)
      : FSWritableFileOwnerWrapper(std::move(t)), fs_(fs), name_(std::move(name)) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) fs_->OnAppend(name_, data.size());
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o,
                  const rocksdb::DataVerificationInfo& v, IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = target()->Append(data, o, v, dbg);
    if (s.ok()) fs_->OnAppend(name_, data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) fs_->OnTruncate(name_, offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& v,
                            IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = target()->PositionedAppend(data, offset, o, v, dbg);
    if (s.ok()) fs_->OnTruncate(name_, offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = target()->Truncate(size, o, dbg);
    if (s.ok()) fs_->OnTruncate(name_, size);
    return s;
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    if (fs_->crashed()) return IOStatus::OK();
    return target()->Flush(o, dbg);
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override { return DoSync(o, dbg, false); }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override { return DoSync(o, dbg, true); }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    // Closing the descriptor is harmless; it is not a sync.
    return target()->Close(o, dbg);
  }

 private:
  IOStatus DoSync(const IOOptions& o, IODebugContext* dbg, bool full) {
    if (fs_->crashed()) return IOStatus::OK();
    IOStatus s = full ? target()->Fsync(o, dbg) : target()->Sync(o, dbg);
    if (s.ok()) fs_->OnSync(name_);
    return s;
  }
  FaultInjectionFs* fs_;
  std::string name_;
};

}  // namespace

FaultInjectionFs::FaultInjectionFs(std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(std::move(base)) {}

IOStatus FaultInjectionFs::Wrap(const std::string& fname, uint64_t size, IOStatus s,
                                std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> l(mu_);
    FileState& st = files_[fname];
    st.size = size;
    st.synced = std::min(st.synced, size);
  }
  *result = std::make_unique<File>(this, fname, std::move(*result));
  return s;
}

IOStatus FaultInjectionFs::NewWritableFile(const std::string& fname,
                                           const rocksdb::FileOptions& opts,
                                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                                           IODebugContext* dbg) {
  {
    std::lock_guard<std::mutex> l(mu_);
    files_[fname] = FileState{};  // a new, empty file
  }
  return Wrap(fname, 0, target()->NewWritableFile(fname, opts, result, dbg), result);
}

std::optional<uint64_t> FaultInjectionFs::BaseFileSize(const std::string& fname) {
  uint64_t size = 0;
  IOStatus s = target()->GetFileSize(fname, IOOptions(), &size, nullptr);
  if (s.ok()) return size;
  if (!s.IsNotSupported()) return std::nullopt;  // e.g. the file does not exist
  std::error_code ec;
  if (!std::filesystem::exists(fname, ec)) return std::nullopt;
  size = std::filesystem::file_size(fname, ec);
  if (ec) return std::nullopt;
  return size;
}

bool FaultInjectionFs::BaseTruncate(const std::string& fname, uint64_t size) {
  IOStatus s = target()->Truncate(fname, static_cast<size_t>(size), IOOptions(), nullptr);
  if (s.ok()) return true;
  if (!s.IsNotSupported()) return false;
  std::error_code ec;
  std::filesystem::resize_file(fname, size, ec);
  return !ec;
}

IOStatus FaultInjectionFs::ReopenWritableFile(const std::string& fname,
                                              const rocksdb::FileOptions& opts,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              IODebugContext* dbg) {
  const uint64_t size = BaseFileSize(fname).value_or(0);
  {
    std::lock_guard<std::mutex> l(mu_);
    // What is already there survived a previous crash/reopen: treat it as synced.
    auto [it, inserted] = files_.try_emplace(fname, FileState{size, size});
    if (inserted) it->second.synced = size;
  }
  return Wrap(fname, size, target()->ReopenWritableFile(fname, opts, result, dbg), result);
}

IOStatus FaultInjectionFs::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                             const rocksdb::FileOptions& opts,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             IODebugContext* dbg) {
  {
    std::lock_guard<std::mutex> l(mu_);
    files_.erase(old_fname);
    files_[fname] = FileState{};
  }
  return Wrap(fname, 0, target()->ReuseWritableFile(fname, old_fname, opts, result, dbg), result);
}

IOStatus FaultInjectionFs::RenameFile(const std::string& src, const std::string& dst,
                                      const IOOptions& options, IODebugContext* dbg) {
  if (crashed()) return IOStatus::OK();
  IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(src);
    if (it != files_.end()) {
      files_[dst] = it->second;
      files_.erase(it);
    } else {
      files_.erase(dst);
    }
  }
  return s;
}

IOStatus FaultInjectionFs::DeleteFile(const std::string& fname, const IOOptions& options,
                                      IODebugContext* dbg) {
  if (crashed()) return IOStatus::OK();
  IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    files_.erase(fname);
  }
  return s;
}

void FaultInjectionFs::Crash() {
  std::lock_guard<std::mutex> l(mu_);
  crashed_ = true;
}

bool FaultInjectionFs::crashed() const {
  std::lock_guard<std::mutex> l(mu_);
  return crashed_;
}

void FaultInjectionFs::OnAppend(const std::string& fname, uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  files_[fname].size += bytes;
}

void FaultInjectionFs::OnSync(const std::string& fname) {
  std::lock_guard<std::mutex> l(mu_);
  FileState& st = files_[fname];
  st.synced = st.size;
}

void FaultInjectionFs::OnTruncate(const std::string& fname, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  FileState& st = files_[fname];
  st.size = size;
  st.synced = std::min(st.synced, size);
}

uint64_t FaultInjectionFs::DropUnsyncedData() {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t dropped = 0;
  for (auto& [name, st] : files_) {
    const std::optional<uint64_t> on_disk = BaseFileSize(name);
    if (!on_disk || *on_disk <= st.synced) continue;
    if (BaseTruncate(name, st.synced)) dropped += *on_disk - st.synced;
    st.size = st.synced;
  }
  crashed_ = false;
  return dropped;
}

std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(std::shared_ptr<FaultInjectionFs> fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace sluice::storage::testing
