// Majority quorum arithmetic over a set of voters. Pure functions; thread-safe.
#ifndef SLUICE_CLUSTER_RAFT_QUORUM_H_
#define SLUICE_CLUSTER_RAFT_QUORUM_H_

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "base/ids.h"

namespace sluice::raft {

enum class VoteResult : uint8_t { kPending, kLost, kWon };

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<NodeId> voters) : voters_(std::move(voters)) {}

  // Largest index acknowledged by a majority. `acked(id)` gives a voter's match index, or
  // nullopt if unknown (counts as 0). An empty config returns 0 (nothing commits).
  LogIndex CommittedIndex(const std::function<std::optional<LogIndex>(NodeId)>& acked) const;
  // Won with a majority of yes, Lost when a majority can no longer be reached, else Pending.
  // Votes from non-voters are ignored. An empty config wins (there is no one to ask).
  VoteResult Vote(const std::map<NodeId, bool>& votes) const;

  const std::set<NodeId>& voters() const { return voters_; }
  std::set<NodeId>& mutable_voters() { return voters_; }
  size_t size() const { return voters_.size(); }
  bool Contains(NodeId id) const { return voters_.count(id) > 0; }

 private:
  std::set<NodeId> voters_;
};

}  // namespace sluice::raft

#endif  // SLUICE_CLUSTER_RAFT_QUORUM_H_
