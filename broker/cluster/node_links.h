// NodeLinks: the broker's node-to-node publish links (proto/node.proto), for messages that are
// not in the commit log (QoS 0; QoS 1/2 with durability=memory). Records of the log need no
// link: every node routes what its own replica applies.
//
// Sending: one Link per peer, each with one thread, one channel and one long-lived client
// stream; Broadcast encodes a message once and queues it for every peer. A peer's queue is
// bounded (`queue_max`): beyond it, and while the peer cannot be reached, messages are
// dropped and counted (at most once, as MQTT allows for QoS 0) -- a slow or dead peer never
// blocks the broker or the other peers. A broken stream is reopened with exponential backoff.
// Receiving: the Service (registered on the cluster port beside the Raft transport, see
// GrpcTransportOptions::extra_services) decodes each batch and hands every message to the
// sink given at construction, on a gRPC thread.
//
// grpc::Status stays inside this file pair. Thread-safety: Broadcast and stats from any
// thread; Stop once (joins every thread; the sink is not called after it returns).
#ifndef SLUICE_BROKER_CLUSTER_NODE_LINKS_H_
#define SLUICE_BROKER_CLUSTER_NODE_LINKS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/ids.h"
#include "storage/log/record.h"

namespace grpc {
class Service;
}

namespace sluice::broker {

struct NodeLinkStats {
  uint64_t messages_sent = 0;
  uint64_t batches_sent = 0;
  uint64_t messages_received = 0;
  uint64_t dropped_queue_full = 0;    // queue_max was hit
  uint64_t dropped_unreachable = 0;   // the peer was down or the stream broke
  uint64_t decode_errors = 0;
  uint64_t reconnects = 0;
  uint64_t queued = 0;                // waiting now, all peers
};

// One peer's link, as this node sees it.
struct PeerLinkStats {
  NodeId peer;
  std::string address;
  bool connected = false;   // the channel to the peer is up (gRPC READY)
  uint64_t messages_sent = 0;
  uint64_t dropped = 0;     // queue full or unreachable
  uint64_t queued = 0;      // waiting now
};

class NodeLinks {
 public:
  using Sink = std::function<void(NodeId from, storage::Record record)>;
  struct Options {
    NodeId self;
    std::map<NodeId, std::string> peers;  // every other member: its cluster address
    uint64_t queue_max = 65536;           // per peer
    uint64_t batch_max = 512;             // messages per PublishBatch
    int64_t reconnect_backoff_initial_ms = 50;
    int64_t reconnect_backoff_max_ms = 1000;
  };
  NodeLinks(Options options, Sink sink);
  ~NodeLinks();

  // The receiving side, to register on the cluster's gRPC server before it starts.
  grpc::Service* service();
  // Starts one sender per peer.
  void Start();
  void Stop();
  // Queues `record` for every peer.
  void Broadcast(const storage::Record& record);
  NodeLinkStats stats() const;
  // Every peer's link, by id.
  std::vector<PeerLinkStats> peer_stats() const;

 private:
  class Service;
  class Link;
  struct Counters {
    std::atomic<uint64_t> sent{0}, batches{0}, received{0}, dropped_full{0},
        dropped_unreachable{0}, decode_errors{0}, reconnects{0}, queued{0};
  };
  Options options_;
  Sink sink_;
  Counters counters_;
  std::unique_ptr<Service> service_;
  std::map<NodeId, std::unique_ptr<Link>> links_;
  std::atomic<bool> stopped_{false};
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_CLUSTER_NODE_LINKS_H_
