// Internal to LogState: one partition's applied state. Fields marked (mu) are written by the
// driver thread with `mu` held exclusively and read by other threads with it shared; the
// driver reads them without the lock (it is the only writer).
#ifndef SLUICE_STORAGE_LOG_PARTITION_H_
#define SLUICE_STORAGE_LOG_PARTITION_H_

#include <atomic>
#include <deque>
#include <map>
#include <shared_mutex>
#include <string>

#include "storage/log/log_state.h"

namespace sluice::storage {

struct LogState::Partition {
  PartitionId id;
  mutable std::shared_mutex mu;
  PartitionMeta meta;               // (mu)
  std::deque<IndexEntry> index;     // (mu) front().offset == meta.start when not empty
  std::map<std::string, CursorInfo, std::less<>> cursors;  // (mu)
  std::atomic<uint64_t> records_deleted{0};
  std::atomic<uint64_t> records_deleted_past_cursor{0};
  // Driver thread only: the last append applied, for the proposal's completion.
  LogIndex last_append_index;
  Offset last_append_offset;
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_PARTITION_H_
