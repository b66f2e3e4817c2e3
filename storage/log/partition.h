// Internal to LogState: one partition's applied state. Fields marked (mu) are written by the
// driver thread with `mu` held exclusively and read by other threads with it shared; the
// driver reads them without the lock (it is the only writer).
#ifndef SLUICE_STORAGE_LOG_PARTITION_H_
#define SLUICE_STORAGE_LOG_PARTITION_H_

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/log/log_state.h"

namespace sluice::storage {

struct LogState::Partition {
  PartitionId id;
  mutable std::shared_mutex mu;
  PartitionMeta meta;               // (mu)
  std::deque<IndexEntry> index;     // (mu) front().offset == meta.start when not empty
  std::map<std::string, CursorInfo, std::less<>> cursors;  // (mu)
  // Where recent reads stopped (LogState::Position), any thread, under positions_mu. A ring:
  // consumers reading on find their place without rescanning a block. Sized for many readers
  // of one partition at different places (sessions catching up after a reconnect storm: with
  // 16 places, 1,000 sessions over 16 partitions rescanned half a block per fetch and caught
  // up at 5k deliveries per CPU-second); a lookup is a scan of 16 KiB.
  mutable std::mutex positions_mu;
  mutable std::array<Position, 1024> positions{};
  mutable size_t next_position = 0;
  std::atomic<uint64_t> records_deleted{0};
  std::atomic<uint64_t> records_deleted_past_cursor{0};
  // Driver thread only. Appends applied but not yet written (LogState::FlushPending): the
  // meta and index entries they make, published to readers once written.
  std::optional<PartitionMeta> pending_meta;
  std::vector<IndexEntry> pending_index;
  // The appends of the current apply batch (index, offset), for their completions.
  std::vector<std::pair<LogIndex, Offset>> batch_appends;
  uint64_t batch_epoch = 0;
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_PARTITION_H_
