// FaultInjectionFs: a RocksDB FileSystem wrapper that models power loss — data written but not
// yet fsynced is lost. It tracks, per writable file, how many bytes were written and how many
// were synced. Crash() makes every later write and sync a silent no-op (the machine is gone,
// but the DB object can still be destroyed); DropUnsyncedData() then truncates every tracked
// file to its last synced size, like the disk after a reboot.
//
// The base file system is the local one or an in-memory one (rocksdb::NewMemEnv's, for the
// simulator): sizes and truncation go through the base (FileSystem::GetFileSize/Truncate),
// falling back to the real path when the base does not support them.
//
// Simplifications (tests only): directory entries are not modelled (a created-but-never-synced
// file stays, empty, instead of vanishing; a rename is durable at once); RangeSync does not
// count as a sync. Debian ships no RocksDB FaultInjectionTestFS headers, hence this small
// version. Thread-safe.
#ifndef SLUICE_STORAGE_TESTING_FAULT_INJECTION_ENV_H_
#define SLUICE_STORAGE_TESTING_FAULT_INJECTION_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace sluice::storage::testing {

class FaultInjectionFs final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFs(std::shared_ptr<rocksdb::FileSystem> base);
  const char* Name() const override { return "SluiceFaultInjectionFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

  // From now on writes and syncs do nothing (and report success).
  void Crash();
  // Truncates every file to its last synced size and becomes active again. Returns the number
  // of bytes dropped.
  uint64_t DropUnsyncedData();

  // Called by the file wrappers.
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };
  bool crashed() const;
  void OnAppend(const std::string& fname, uint64_t bytes);
  void OnSync(const std::string& fname);
  void OnTruncate(const std::string& fname, uint64_t size);

 private:
  rocksdb::IOStatus Wrap(const std::string& fname, uint64_t size, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);
  // Through the base file system (or the real path when it does not support the call).
  std::optional<uint64_t> BaseFileSize(const std::string& fname);
  bool BaseTruncate(const std::string& fname, uint64_t size);
  mutable std::mutex mu_;
  bool crashed_ = false;
  std::map<std::string, FileState> files_;
};

// An Env whose file system is `fs` (for rocksdb::Options::env).
std::unique_ptr<rocksdb::Env> NewFaultInjectionEnv(std::shared_ptr<FaultInjectionFs> fs);

}  // namespace sluice::storage::testing

#endif  // SLUICE_STORAGE_TESTING_FAULT_INJECTION_ENV_H_
