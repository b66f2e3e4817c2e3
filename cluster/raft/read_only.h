// ReadOnly: the leader's queue of ReadIndex requests waiting for a heartbeat round to confirm
// it is still leader. Owned by Raft. Thread-compatible.
#ifndef SLUICE_CLUSTER_RAFT_READ_ONLY_H_
#define SLUICE_CLUSTER_RAFT_READ_ONLY_H_

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "base/ids.h"
#include "cluster/raft/types.h"

namespace sluice::raft {

enum class ReadOnlyOption : uint8_t {
  // Confirm leadership with a quorum of heartbeat acks per batch of reads (always safe).
  kSafe,
  // Trust the leader lease given by check-quorum (unsafe if clocks drift unboundedly).
  kLeaseBased,
};

class ReadOnly {
 public:
  struct Status {
    Message request;  // the original kReadIndex, entries[0].data is the request context
    LogIndex index;   // commit index when the request arrived
    std::map<NodeId, bool> acks;
  };

  // Queues a request (ignored if its context is already queued).
  void AddRequest(LogIndex index, Message request);
  // Records a heartbeat ack for `ctx`; returns the acks so far (nullptr if ctx is unknown).
  const std::map<NodeId, bool>* RecvAck(NodeId id, const std::string& ctx);
  // Dequeues and returns every request up to and including `ctx`: a quorum confirmed them.
  std::vector<Status> Advance(const std::string& ctx);
  // Context of the newest request, sent with heartbeats; empty if none.
  std::string LastPendingRequestCtx() const;
  size_t pending() const { return queue_.size(); }

 private:
  std::map<std::string, Status> pending_;
  std::deque<std::string> queue_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_READ_ONLY_H_
