#include "cluster/raft/quorum.h"

#include <algorithm>
#include <vector>

namespace sluice::raft {

LogIndex MajorityConfig::CommittedIndex(
    const std::function<std::optional<LogIndex>(NodeId)>& acked) const {
  if (voters_.empty()) return LogIndex(0);
  std::vector<LogIndex> matched;
  matched.reserve(voters_.size());
  for (NodeId id : voters_) matched.push_back(acked(id).value_or(LogIndex(0)));
  // The (n/2+1)-th largest value is held by a majority.
  std::sort(matched.begin(), matched.end(), std::greater<LogIndex>());
  return matched[voters_.size() / 2];
}

VoteResult MajorityConfig::Vote(const std::map<NodeId, bool>& votes) const {
  if (voters_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (NodeId id : voters_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  const size_t q = voters_.size() / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (yes + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

}  // namespace sluice::raft
