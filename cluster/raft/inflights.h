// Inflights: the leader's window of MsgApp sent to one follower but not yet acknowledged,
// bounded by a message count and a byte total (flow control). Thread-compatible.
#ifndef SLUICE_CLUSTER_RAFT_INFLIGHTS_H_
#define SLUICE_CLUSTER_RAFT_INFLIGHTS_H_

#include <cstdint>
#include <deque>

#include "base/ids.h"

namespace sluice::raft {

class Inflights {
 public:
  // max_bytes == 0 means no byte limit. max_msgs must be > 0.
  Inflights(uint64_t max_msgs, uint64_t max_bytes);

  // Records a MsgApp whose last entry is `last` carrying `bytes` payload. Adding to a full
  // window is a bug (callers check Full()); indexes must increase.
  void Add(LogIndex last, uint64_t bytes);
  // Frees every message whose last index is <= `to` (they were acknowledged).
  void FreeLE(LogIndex to);
  // Frees the oldest message (a heartbeat response showed the follower is alive).
  void FreeFirstOne();
  bool Full() const;
  uint64_t Count() const { return window_.size(); }
  uint64_t bytes() const { return bytes_; }
  void Reset();

 private:
  struct Inflight {
    LogIndex last;
    uint64_t bytes;
  };
  uint64_t max_msgs_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Inflight> window_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_INFLIGHTS_H_
