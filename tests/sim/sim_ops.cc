// Client operations of the simulator beyond plain proposals, and their checks:
//  - membership changes on the current leader: add a learner (a fresh node id that starts from
//    the initial membership and replays the log or receives a snapshot), promote a learner
//    (refused by the core while it lags), remove a member (the leader itself included); a node
//    whose removal is committed is stopped for good at the end of that step;
//  - leadership transfer to a random voter;
//  - ReadIndex reads on any node, checked for linearizability: the read index must cover every
//    index any node knew as committed when the read was requested, must itself be committed,
//    and the read is served only once the node has applied it.
#include <algorithm>
#include <sstream>

#include "base/check.h"
#include "tests/sim/sim_internal.h"

namespace sluice::sim::internal {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::ConfState;

namespace {

bool Contains(const std::vector<NodeId>& v, NodeId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

}  // namespace

SimNode* Simulation::Leader() {
  SimNode* best = nullptr;
  for (SimNode& n : nodes_) {
    if (!n.up() || n.raw->raft().state() != raft::StateType::kLeader) continue;
    if (best == nullptr || n.raw->raft().term() > best->raw->raft().term()) best = &n;
  }
  return best;
}

void Simulation::ClientOps() {
  if (rng_.Chance(1, 600)) ChangeMembership();
  if (rng_.Chance(1, 1000)) TransferLeadership();
  if (rng_.Chance(1, 40)) RequestRead();
}

void Simulation::ChangeMembership() {
  SimNode* l = Leader();
  if (l == nullptr) return;
  const ConfState cs = l->raw->raft().tracker().GetConfState();
  switch (rng_.Uniform(3)) {
    case 0:
      AddLearner(*l, cs);
      break;
    case 1:
      Promote(*l, cs);
      break;
    default:
      Remove(*l, cs);
      break;
  }
}

void Simulation::AddLearner(SimNode& leader, const ConfState& cs) {
  std::vector<NodeId> candidates;
  for (SimNode& n : nodes_) {
    if (!n.removed && !Contains(cs.voters, n.id) && !Contains(cs.learners, n.id)) {
      candidates.push_back(n.id);
    }
  }
  if (candidates.empty()) return;
  const NodeId id = candidates[rng_.Uniform(candidates.size())];
  if (!leader.raw->ProposeConfChange(ConfChange{ConfChangeType::kAddLearner, id, ""}).ok()) return;
  SimNode& n = node(id);
  if (n.joined()) return;  // an earlier attempt started it; its add was lost
  // Like a node started with an empty data directory: it replays every conf change in the log
  // from the initial membership, or installs a snapshot that names it.
  n.storage = std::make_unique<raft::MemoryStorage>(initial_conf_);
  Start(n);
}

void Simulation::Promote(SimNode& leader, const ConfState& cs) {
  if (cs.learners.empty()) return;
  const NodeId id = cs.learners[rng_.Uniform(cs.learners.size())];
  const absl::Status st =
      leader.raw->ProposeConfChange(ConfChange{ConfChangeType::kAddNode, id, ""});
  if (!st.ok() && st.message().find("not caught up") != std::string_view::npos) {
    ++stats_->promotions_refused;
  }
}

void Simulation::Remove(SimNode& leader, const ConfState& cs) {
  std::vector<NodeId> members = cs.voters;
  members.insert(members.end(), cs.learners.begin(), cs.learners.end());
  // Often the leader itself: it must hand over by stepping down once the removal applies.
  const NodeId id = rng_.Chance(1, 3) ? leader.id : members[rng_.Uniform(members.size())];
  // Keep at least three voters. With two, one of them stale (it missed the entries after its
  // last term) and pre-vote off, the stale one keeps campaigning and the two split the vote
  // round after round: a real weakness of two-voter groups, but it breaks the liveness bound.
  if (Contains(cs.voters, id) && cs.voters.size() <= 3) return;
  (void)leader.raw->ProposeConfChange(ConfChange{ConfChangeType::kRemoveNode, id, ""});
}

void Simulation::TransferLeadership() {
  SimNode* l = Leader();
  if (l == nullptr) return;
  const raft::MajorityConfig& voters = l->raw->raft().tracker().voters();
  std::vector<NodeId> others;
  for (NodeId id : voters.voters()) {
    if (id != l->id) others.push_back(id);
  }
  if (others.empty()) return;
  l->raw->TransferLeader(others[rng_.Uniform(others.size())]);
  ++stats_->transfers_requested;
}

void Simulation::ApplyConfChange(SimNode& n, const raft::Entry& e) {
  absl::StatusOr<ConfChange> cc = ConfChange::Decode(e.data);
  SLUICE_CHECK_MSG(cc.ok(), "undecodable conf change in the committed log");
  const bool was_leader = n.raw->raft().state() == raft::StateType::kLeader;
  n.raw->ApplyConfChange(*cc);
  if (cc->type != ConfChangeType::kRemoveNode) return;
  to_remove_.insert(cc->node_id);
  // A leader applying its own removal steps down at once (the core's rule).
  if (cc->node_id == n.id && was_leader) {
    ++stats_->leaders_removed;
    if (n.raw->raft().state() == raft::StateType::kLeader) {
      leader_kept_after_removal_ = true;
    }
  }
}

void Simulation::StopRemovedNodes() {
  for (NodeId id : to_remove_) {
    SimNode& n = node(id);
    if (n.removed) continue;
    n.removed = true;
    ++stats_->nodes_removed;
    if (!n.up()) continue;
    if (n.raw->raft().state() == raft::StateType::kLeader) ++stats_->leaders_removed;
    Crash(n);
  }
  to_remove_.clear();
}

void Simulation::RequestRead() {
  SimNode& n = nodes_[rng_.Uniform(nodes_.size())];
  if (!n.up()) return;
  const uint64_t id = next_read_++;
  // Everything committed anywhere by now must be visible to this read.
  if (n.raw->ReadIndex("r" + std::to_string(id)).ok()) reads_[id] = ReadRequest{n.id, max_committed_};
}

absl::Status Simulation::ReceiveReadStates(SimNode& n, const std::vector<raft::ReadState>& states) {
  for (const raft::ReadState& rs : states) {
    if (rs.request_ctx.size() < 2 || rs.request_ctx[0] != 'r') return Fail("bad read context");
    const uint64_t id = std::stoull(rs.request_ctx.substr(1));
    auto it = reads_.find(id);
    if (it == reads_.end()) continue;  // a duplicated response
    std::ostringstream os;
    if (it->second.node != n.id) {
      os << "read " << id << " of node " << it->second.node << " answered on node " << n.id;
      return Fail(os.str());
    }
    if (rs.index < it->second.committed_at_request) {
      os << "stale read " << id << " on node " << n.id << ": read index " << rs.index
         << " but index " << it->second.committed_at_request
         << " was committed before the read was requested";
      return Fail(os.str());
    }
    if (rs.index > max_committed_ && history_.count(rs.index) == 0) {
      os << "read " << id << " has read index " << rs.index << " beyond any commit ("
         << max_committed_ << ")";
      return Fail(os.str());
    }
    n.reads.push_back(WaitingRead{rs.index, id});
    reads_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status Simulation::ServeReads(SimNode& n) {
  for (auto it = n.reads.begin(); it != n.reads.end();) {
    if (it->index > n.applied) {
      ++it;
      continue;
    }
    // The served state is the one after applying `applied` >= read index: it must be the
    // committed history's state there.
    auto h = history_.find(n.applied);
    if (h != history_.end() && h->second.hash_after != n.hash) {
      return Fail("read served from a state that differs from the committed history");
    }
    ++stats_->reads_served;
    it = n.reads.erase(it);
  }
  return absl::OkStatus();
}

void Simulation::TrackCommitted() {
  for (SimNode& n : nodes_) {
    if (n.up()) max_committed_ = std::max(max_committed_, n.raw->raft().log().committed());
  }
}

}  // namespace sluice::sim::internal
