// GrpcTransport: the production Transport, over proto/raft.proto.
//
// Server side: a gRPC server (synchronous API: one server thread per incoming stream, which is
// one per peer) that decodes MessageBatch/SnapshotChunk and calls the handler.
// Client side: one Peer per remote node, each with one thread, one channel and one long-lived
// client stream carrying every group's messages to that node. Messages wait in a bounded queue
// (`send_queue_msgs_max`); when it is full, new messages are dropped and counted. When the peer
// cannot be reached the queue is dropped (Raft retransmits), the handler hears
// HandleUnreachable, and the Peer retries with exponential backoff between
// `reconnect_backoff_initial_ms` and `reconnect_backoff_max_ms`. A kSnap message is sent on its
// own SendSnapshot call in chunks of `snapshot_chunk_bytes`, on the peer's thread (so other
// messages to that peer wait behind a snapshot), and its outcome is reported to the handler.
//
// grpc::Status never leaves this file pair: failures become counters and handler calls.
// Thread-safe (see transport.h). Call Start before AddPeer (peers added earlier are ignored).
// Stop() joins every thread.
#ifndef SLUICE_CLUSTER_TRANSPORT_GRPC_TRANSPORT_H_
#define SLUICE_CLUSTER_TRANSPORT_GRPC_TRANSPORT_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/transport/transport.h"

namespace grpc {
class Server;
class Service;
}

namespace sluice::transport {

struct GrpcTransportOptions {
  NodeId self;
  // host:port to listen on; port 0 picks a free port (see GrpcTransport::port()).
  std::string listen_address = "127.0.0.1:0";
  // Limits.
  uint64_t send_queue_msgs_max = 8192;       // per peer; beyond it messages are dropped
  uint64_t batch_msgs_max = 1024;            // messages per MessageBatch on the wire
  uint64_t snapshot_chunk_bytes = 1 << 20;   // per SnapshotChunk
  uint64_t snapshot_bytes_max = 1ull << 30;  // a larger incoming image is refused
  int64_t snapshot_timeout_ms = 60'000;      // deadline of one SendSnapshot call
  int message_bytes_max = 64 << 20;          // largest gRPC message either way
  int64_t reconnect_backoff_initial_ms = 50;
  int64_t reconnect_backoff_max_ms = 1000;
  // More gRPC services served on the same port (e.g. the broker's node-to-node links); not
  // owned, must outlive Stop().
  std::vector<grpc::Service*> extra_services;
};

class GrpcTransport final : public Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options);
  ~GrpcTransport() override;

  // Unavailable if the listen address cannot be bound.
  absl::Status Start(TransportHandler* handler) override;
  void Stop() override;
  void AddPeer(NodeId peer, const std::string& address) override;
  void RemovePeer(NodeId peer) override;
  void Send(NodeId to, std::vector<GroupMessage> batch) override;
  TransportStats stats() const override;

  // The bound port (after Start).
  int port() const { return port_; }

 private:
  class Service;
  class Peer;
  struct Counters {
    std::atomic<uint64_t> messages_sent{0}, batches_sent{0}, messages_received{0},
        dropped_queue_full{0}, dropped_unreachable{0}, snapshots_sent{0}, snapshots_failed{0},
        reconnects{0}, decode_errors{0};
  };

  GrpcTransportOptions options_;
  TransportHandler* handler_ = nullptr;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  Counters counters_;
  std::mutex peers_mu_;
  std::map<NodeId, std::shared_ptr<Peer>> peers_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::transport

#endif  // SLUICE_CLUSTER_TRANSPORT_GRPC_TRANSPORT_H_
