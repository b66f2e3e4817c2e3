#include "cluster/testing/loopback_cluster.h"

#include <filesystem>

#include "base/status.h"

namespace sluice::cluster_testing {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {
std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

milliseconds Left(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? left : milliseconds(0);
}
}  // namespace

LoopbackCluster::~LoopbackCluster() {
  for (auto& [id, n] : nodes_) StopNode(id);
}

absl::Status LoopbackCluster::StartNode(NodeId id, multiraft::StateMachine* sm) {
  Node& n = nodes_[id];
  if (n.mr) return absl::FailedPreconditionError("node already running");
  const bool first_start = n.port == 0;
  ASSIGN_OR_RETURN(n.store, raftstore::RocksDbLogStore::Open(Dir(id), options_.storage));
  transport::GrpcTransportOptions to = options_.transport;
  to.self = id;
  to.listen_address = Addr(n.port);
  n.transport = std::make_unique<transport::GrpcTransport>(to);
  multiraft::MultiRaftOptions mo = options_.multiraft;
  mo.self = id;
  n.mr = std::make_unique<multiraft::MultiRaft>(mo, n.store.get(), n.transport.get(), sm);
  RETURN_IF_ERROR(n.transport->Start(n.mr.get()));
  n.port = n.transport->port();
  for (auto& [other_id, other] : nodes_) {
    if (other_id == id || other.port == 0) continue;
    n.transport->AddPeer(other_id, Addr(other.port));
    if (first_start && other.transport) other.transport->AddPeer(id, Addr(n.port));
  }
  return n.mr->Start();
}

void LoopbackCluster::StopNode(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second.mr) return;
  Node& n = it->second;
  n.transport->Stop();
  n.mr->Stop();
  n.mr.reset();
  n.transport.reset();
  n.store.reset();
}

std::string LoopbackCluster::Dir(NodeId id) const {
  return options_.root_dir + "/node" + std::to_string(id.value());
}

absl::Status LoopbackCluster::CrashNode(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || !it->second.mr) return absl::FailedPreconditionError("not running");
  Node& n = it->second;
  // Silence first: whatever the node persists after the image below must never have been
  // seen by a peer (a real crash cannot un-send a vote).
  n.transport->Stop();
  const std::string image = Dir(id) + ".crash";
  std::filesystem::remove_all(image);
  const absl::Status st = n.store->CrashImageForTesting(image);
  // The process is gone: nothing it still held in memory counts.
  n.mr->Stop();
  n.mr.reset();
  n.transport.reset();
  n.store.reset();
  RETURN_IF_ERROR(st);
  std::error_code ec;
  std::filesystem::remove_all(Dir(id), ec);
  if (!ec) std::filesystem::rename(image, Dir(id), ec);
  if (ec) return absl::InternalError("crash image: " + ec.message());
  return absl::OkStatus();
}

multiraft::MultiRaft* LoopbackCluster::node(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.mr.get();
}

transport::GrpcTransport* LoopbackCluster::transport(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.transport.get();
}

std::vector<NodeId> LoopbackCluster::running() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) {
    if (n.mr) out.push_back(id);
  }
  return out;
}

absl::Status LoopbackCluster::CreateGroup(GroupId group, const std::vector<NodeId>& members) {
  raft::ConfState cs;
  cs.voters = members;
  for (NodeId id : members) {
    multiraft::MultiRaft* mr = node(id);
    if (mr == nullptr) return absl::FailedPreconditionError("member not running");
    RETURN_IF_ERROR(mr->CreateGroup(group, cs));
  }
  return absl::OkStatus();
}

NodeId LoopbackCluster::AwaitLeader(GroupId group, milliseconds timeout) const {
  const auto deadline = SteadyClock::now() + timeout;
  do {
    for (const auto& [id, n] : nodes_) {
      if (!n.mr) continue;
      const NodeId self = id;
      // A short bounded wait on this node's status condition, then the next node.
      if (n.mr->AwaitStatus(group, [&](const multiraft::GroupStatus& s) {
            return s.state == raft::StateType::kLeader && s.leader == self;
          }, std::min(milliseconds(20), Left(deadline)))) {
        return id;
      }
    }
  } while (SteadyClock::now() < deadline);
  return NodeId(0);
}

template <typename F>
absl::StatusOr<LogIndex> LoopbackCluster::OnLeader(GroupId group, milliseconds timeout,
                                                   F propose) {
  const auto deadline = SteadyClock::now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no leader");
  while (SteadyClock::now() < deadline) {
    const NodeId leader = AwaitLeader(group, Left(deadline));
    if (leader == NodeId(0)) break;
    multiraft::MultiRaft* mr = node(leader);
    absl::StatusOr<LogIndex> r = propose(*mr);
    if (r.ok()) return r;
    last = r.status();
    // Not (or no longer) leader, or a new leader not yet ready for a conf change: wait until
    // this node has applied everything it committed, then ask again.
    mr->AwaitStatus(group, [](const multiraft::GroupStatus& s) { return s.applied >= s.commit; },
                    std::min(milliseconds(200), Left(deadline)));
  }
  return last;
}

absl::StatusOr<LogIndex> LoopbackCluster::Propose(GroupId group, const std::string& data,
                                                  milliseconds timeout) {
  return OnLeader(group, timeout,
                  [&](multiraft::MultiRaft& mr) { return mr.Propose(group, data).get(); });
}

absl::StatusOr<LogIndex> LoopbackCluster::ChangeMembership(GroupId group,
                                                           const raft::ConfChange& cc,
                                                           milliseconds timeout) {
  return OnLeader(group, timeout,
                  [&](multiraft::MultiRaft& mr) { return mr.ProposeConfChange(group, cc).get(); });
}

absl::StatusOr<LogIndex> LoopbackCluster::PromoteLearner(GroupId group, NodeId learner,
                                                         milliseconds timeout) {
  const uint64_t lag_max = options_.multiraft.max_learner_lag_entries;
  return OnLeader(group, timeout, [&](multiraft::MultiRaft& mr) -> absl::StatusOr<LogIndex> {
    // Wait (briefly; OnLeader retries) for the leader to see the learner caught up.
    mr.AwaitStatus(group, [&](const multiraft::GroupStatus& s) {
      auto it = s.match.find(learner);
      return it != s.match.end() && it->second.value() + lag_max >= s.last_index.value();
    }, milliseconds(500));
    return mr.PromoteLearner(group, learner).get();
  });
}

}  // namespace sluice::cluster_testing
