// LoopbackCluster: N Sluice Raft nodes in one process, each with its own RocksDB directory,
// GrpcTransport on 127.0.0.1 and MultiRaft driver -- the real production stack minus separate
// processes. Used by tests/integration and cluster/bench.
//
// A node keeps its port and directory across StopNode/StartNode, so a restart looks to its peers
// like the same node coming back. Every wait is bounded and waits on a condition.
// Thread-compatible: one test thread drives it (the nodes run their own threads).
#ifndef SLUICE_CLUSTER_TESTING_LOOPBACK_CLUSTER_H_
#define SLUICE_CLUSTER_TESTING_LOOPBACK_CLUSTER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/storage/rocksdb_log_store.h"
#include "cluster/transport/grpc_transport.h"

namespace sluice::cluster_testing {

struct LoopbackClusterOptions {
  std::string root_dir;                   // node N lives in root_dir/nodeN
  multiraft::MultiRaftOptions multiraft;  // `self` is set per node
  transport::GrpcTransportOptions transport;
  raftstore::RocksDbLogStoreOptions storage;
};

class LoopbackCluster {
 public:
  explicit LoopbackCluster(LoopbackClusterOptions options) : options_(std::move(options)) {}
  ~LoopbackCluster();

  // Starts (or restarts) node `id` applying to `sm` (not owned; outlives the node). Every other
  // node known to the cluster becomes its peer and learns its address.
  absl::Status StartNode(NodeId id, multiraft::StateMachine* sm);
  // Destroys the node's driver, transport and store (its directory stays).
  void StopNode(NodeId id);
  // Crashes the node hard, as kill -9 would: it falls silent at once (transport stopped first,
  // so nothing it does afterwards reaches anyone), its directory is replaced by the crash image
  // taken at that instant (RocksDB files as they are, unflushed writes only in the WAL), and
  // its driver, state machine contents and queued messages are simply dropped. StartNode then
  // recovers it from that directory.
  absl::Status CrashNode(NodeId id);
  multiraft::MultiRaft* node(NodeId id) const;
  std::vector<NodeId> running() const;
  transport::GrpcTransport* transport(NodeId id) const;

  // Creates `group` on each of `members` with `members` as voters.
  absl::Status CreateGroup(GroupId group, const std::vector<NodeId>& members);
  // A running node that says it leads `group`; NodeId(0) after `timeout`.
  NodeId AwaitLeader(GroupId group, std::chrono::milliseconds timeout) const;
  // Proposes on the current leader, retrying (bounded by `timeout`) when there is none or
  // leadership moves. Returns the applied index.
  absl::StatusOr<LogIndex> Propose(GroupId group, const std::string& data,
                                   std::chrono::milliseconds timeout);
  absl::StatusOr<LogIndex> ChangeMembership(GroupId group, const raft::ConfChange& cc,
                                            std::chrono::milliseconds timeout);
  // The safe promotion path: waits until the leader reports `learner` caught up (its match
  // within `max_learner_lag_entries` of the leader's last index), then promotes it; retries
  // while the leader refuses (FailedPrecondition) or moves, bounded by `timeout`.
  absl::StatusOr<LogIndex> PromoteLearner(GroupId group, NodeId learner,
                                          std::chrono::milliseconds timeout);

 private:
  struct Node {
    int port = 0;
    std::unique_ptr<raftstore::RocksDbLogStore> store;
    std::unique_ptr<transport::GrpcTransport> transport;
    std::unique_ptr<multiraft::MultiRaft> mr;
  };
  std::string Dir(NodeId id) const;
  template <typename F>
  absl::StatusOr<LogIndex> OnLeader(GroupId group, std::chrono::milliseconds timeout, F propose);

  LoopbackClusterOptions options_;
  std::map<NodeId, Node> nodes_;
};

}  // namespace sluice::cluster_testing

#endif  // SLUICE_CLUSTER_TESTING_LOOPBACK_CLUSTER_H_
