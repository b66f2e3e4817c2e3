// Transport: how a node's Raft groups exchange messages with other nodes. One Transport per
// node carries the messages of all its groups; each message is tagged with its group.
//
//   GrpcTransport   production: proto/raft.proto over gRPC, one stream per peer (grpc_transport.h)
//   LocalTransport  tests: in-process delivery through a LocalNetwork with cut/isolate
//
// Delivery is best effort: messages may be lost, duplicated by retries of the layer above, or
// arrive late. Raft tolerates all of that; the transport only promises not to corrupt them and
// to keep per-peer order while a connection lasts. Send never blocks on the network: each peer
// has a bounded queue and what does not fit is dropped and counted.
//
// Threading: Send/AddPeer/RemovePeer/stats are thread-safe. The handler is called on transport
// threads (LocalTransport: on the sender's thread), possibly concurrently; it must return
// quickly, posting the work to the owner of the groups, and must neither block on that owner nor
// call Send. The handler is not called after Stop() returns.
#ifndef SLUICE_CLUSTER_TRANSPORT_TRANSPORT_H_
#define SLUICE_CLUSTER_TRANSPORT_TRANSPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/ids.h"
#include "cluster/raft/types.h"

namespace sluice::transport {

struct GroupMessage {
  GroupId group;
  raft::Message message;
};

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // A batch from node `from` (every message's message.from is a member of that node's groups).
  virtual void HandleMessages(NodeId from, std::vector<GroupMessage> batch) = 0;
  // Messages to `peer` were lost because it could not be reached (the Raft leader should slow
  // down: RawNode::ReportUnreachable for every group shared with the peer).
  virtual void HandleUnreachable(NodeId peer) = 0;
  // Outcome of sending a kSnap message of `group` to `to` (RawNode::ReportSnapshot).
  virtual void HandleSnapshotStatus(GroupId group, NodeId to, bool delivered) = 0;
};

// Counters every transport keeps (monotonic; read at any time).
struct TransportStats {
  uint64_t messages_sent = 0;
  uint64_t batches_sent = 0;
  uint64_t messages_received = 0;
  uint64_t messages_dropped_queue_full = 0;   // the per-peer queue limit was hit
  uint64_t messages_dropped_unreachable = 0;  // peer down, unknown, or the stream broke
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_failed = 0;
  uint64_t reconnects = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts delivering to `handler` (not owned; must outlive Stop()). Errors: the listener could
  // not be bound (gRPC).
  virtual absl::Status Start(TransportHandler* handler) = 0;
  // Stops all threads and connections; idempotent. No handler call happens after it returns.
  virtual void Stop() = 0;
  // Where `peer` is reached (ignored by LocalTransport). Re-adding replaces the address.
  virtual void AddPeer(NodeId peer, const std::string& address) = 0;
  virtual void RemovePeer(NodeId peer) = 0;
  // Queues `batch` for node `to`; never blocks on the network. Unknown peers: dropped, counted.
  virtual void Send(NodeId to, std::vector<GroupMessage> batch) = 0;
  virtual TransportStats stats() const = 0;
};

}  // namespace sluice::transport

#endif  // SLUICE_CLUSTER_TRANSPORT_TRANSPORT_H_
