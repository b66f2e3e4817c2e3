#include "cluster/transport/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "base/log.h"
#include "cluster/transport/codec.h"
#include "proto/raft.grpc.pb.h"

namespace sluice::transport {

namespace pb = sluice::raft::v1;
using Clock = std::chrono::system_clock;

// ---- server -------------------------------------------------------------------------------

class GrpcTransport::Service final : public pb::RaftTransport::Service {
 public:
  explicit Service(GrpcTransport* t) : t_(t) {}

  grpc::Status Stream(grpc::ServerContext* ctx, grpc::ServerReader<pb::MessageBatch>* reader,
                      pb::StreamSummary* summary) override {
    pb::MessageBatch batch;
    uint64_t n = 0;
    while (reader->Read(&batch)) {
      if (batch.to_node() != t_->options_.self.value()) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "batch for another node");
      }
      std::vector<GroupMessage> msgs;
      msgs.reserve(batch.messages_size());
      for (const pb::Message& pm : batch.messages()) {
        absl::StatusOr<GroupMessage> gm = FromProto(pm);
        if (!gm.ok()) {
          ++t_->counters_.decode_errors;
          continue;
        }
        msgs.push_back(std::move(*gm));
      }
      t_->counters_.messages_received += msgs.size();
      ++n;
      if (!msgs.empty()) t_->handler_->HandleMessages(NodeId(batch.from_node()), std::move(msgs));
    }
    summary->set_batches_received(n);
    return grpc::Status::OK;
  }

  grpc::Status SendSnapshot(grpc::ServerContext* ctx, grpc::ServerReader<pb::SnapshotChunk>* reader,
                            pb::SnapshotAck* ack) override {
    pb::SnapshotChunk chunk;
    std::optional<GroupMessage> gm;
    NodeId from;
    std::string image;
    while (reader->Read(&chunk)) {
      if (!gm) {
        if (chunk.to_node() != t_->options_.self.value() || !chunk.message().has_snapshot()) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad first snapshot chunk");
        }
        absl::StatusOr<GroupMessage> decoded = FromProto(chunk.message());
        if (!decoded.ok() || decoded->message.type != raft::MessageType::kSnap) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad snapshot message");
        }
        gm = std::move(*decoded);
        from = NodeId(chunk.from_node());
      }
      if (image.size() + chunk.data().size() > t_->options_.snapshot_bytes_max) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "snapshot too large");
      }
      image.append(chunk.data());
    }
    if (!gm || ctx->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "snapshot incomplete");
    }
    gm->message.snapshot->data = std::move(image);
    ++t_->counters_.messages_received;
    std::vector<GroupMessage> msgs;
    msgs.push_back(std::move(*gm));
    t_->handler_->HandleMessages(from, std::move(msgs));
    ack->set_accepted(true);
    return grpc::Status::OK;
  }

 private:
  GrpcTransport* t_;
};

// ---- client side: one Peer per remote node --------------------------------------------------

class GrpcTransport::Peer {
 public:
  Peer(GrpcTransport* t, NodeId id, std::string address)
      : t_(t), id_(id), address_(std::move(address)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Peer() { Stop(); }

  void Enqueue(std::vector<GroupMessage> batch) {
    uint64_t dropped = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (GroupMessage& gm : batch) {
        if (queue_.size() >= t_->options_.send_queue_msgs_max) {
          ++dropped;
          continue;
        }
        queue_.push_back(std::move(gm));
      }
    }
    if (dropped) t_->counters_.dropped_queue_full += dropped;
    cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      stop_ = true;
      if (stream_ctx_) stream_ctx_->TryCancel();
      if (snap_ctx_) snap_ctx_->TryCancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(t_->options_.reconnect_backoff_initial_ms));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                static_cast<int>(t_->options_.reconnect_backoff_initial_ms));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(t_->options_.reconnect_backoff_max_ms));
    // Each node keeps its own connections, even when several nodes share a process (tests).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxSendMessageSize(t_->options_.message_bytes_max);
    args.SetMaxReceiveMessageSize(t_->options_.message_bytes_max);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    std::unique_ptr<pb::RaftTransport::Stub> stub = pb::RaftTransport::NewStub(channel);
    int64_t backoff_ms = t_->options_.reconnect_backoff_initial_ms;
    bool first = true;
    while (!stopping()) {
      if (!first) ++t_->counters_.reconnects;
      first = false;
      if (!channel->WaitForConnected(Clock::now() + std::chrono::milliseconds(backoff_ms))) {
        DropQueued(/*report_if_empty=*/false);
        backoff_ms = std::min(backoff_ms * 2, t_->options_.reconnect_backoff_max_ms);
        continue;  // WaitForConnected itself waited `backoff_ms`
      }
      backoff_ms = t_->options_.reconnect_backoff_initial_ms;
      if (!RunStream(*stub)) DropQueued(/*report_if_empty=*/true);
    }
  }

  // Streams queued messages until stop (true) or a broken stream (false).
  bool RunStream(pb::RaftTransport::Stub& stub) {
    grpc::ClientContext ctx;
    pb::StreamSummary summary;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return true;
      stream_ctx_ = &ctx;
    }
    std::unique_ptr<grpc::ClientWriter<pb::MessageBatch>> writer = stub.Stream(&ctx, &summary);
    bool broken = false;
    std::vector<GroupMessage> take;
    while (!broken) {
      take.clear();
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        const size_t n = std::min<size_t>(queue_.size(), t_->options_.batch_msgs_max);
        take.assign(std::make_move_iterator(queue_.begin()),
                    std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
      pb::MessageBatch batch;
      batch.set_from_node(t_->options_.self.value());
      batch.set_to_node(id_.value());
      std::vector<const GroupMessage*> snaps;
      for (const GroupMessage& gm : take) {
        if (gm.message.type == raft::MessageType::kSnap && gm.message.snapshot) {
          snaps.push_back(&gm);
        } else {
          ToProto(gm.group, gm.message, batch.add_messages());
        }
      }
      if (batch.messages_size() > 0) {
        if (writer->Write(batch)) {
          t_->counters_.messages_sent += batch.messages_size();
          ++t_->counters_.batches_sent;
        } else {
          t_->counters_.dropped_unreachable += batch.messages_size();
          broken = true;
        }
      }
      for (const GroupMessage* gm : snaps) {
        const bool ok = !broken && SendSnapshot(stub, *gm);
        ++(ok ? t_->counters_.snapshots_sent : t_->counters_.snapshots_failed);
        t_->handler_->HandleSnapshotStatus(gm->group, id_, ok);
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      stream_ctx_ = nullptr;
    }
    if (broken || stopping()) {
      ctx.TryCancel();
    } else {
      writer->WritesDone();
    }
    grpc::Status st = writer->Finish();
    if (broken) {
      SLOG(kDebug) << "raft stream broken" << Describe(st);
    }
    return !broken;
  }

  bool SendSnapshot(pb::RaftTransport::Stub& stub, const GroupMessage& gm) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Clock::now() + std::chrono::milliseconds(t_->options_.snapshot_timeout_ms));
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return false;
      snap_ctx_ = &ctx;
    }
    pb::SnapshotAck ack;
    std::unique_ptr<grpc::ClientWriter<pb::SnapshotChunk>> writer = stub.SendSnapshot(&ctx, &ack);
    const std::string& image = gm.message.snapshot->data;
    const uint64_t chunk = std::max<uint64_t>(1, t_->options_.snapshot_chunk_bytes);
    uint64_t off = 0;
    bool ok = true;
    do {
      pb::SnapshotChunk c;
      if (off == 0) {
        c.set_from_node(t_->options_.self.value());
        c.set_to_node(id_.value());
        ToProto(gm.group, gm.message, c.mutable_message());
      }
      const uint64_t n = std::min<uint64_t>(chunk, image.size() - off);
      c.set_data(image.substr(off, n));
      off += n;
      ok = writer->Write(c);
    } while (ok && off < image.size());
    if (ok) ok = writer->WritesDone();
    grpc::Status st = writer->Finish();
    {
      std::lock_guard<std::mutex> l(mu_);
      snap_ctx_ = nullptr;
    }
    return ok && st.ok() && ack.accepted();
  }

  // The peer is unreachable: what waits for it is lost (Raft will resend).
  void DropQueued(bool report_if_empty) {
    std::deque<GroupMessage> dropped;
    {
      std::lock_guard<std::mutex> l(mu_);
      dropped.swap(queue_);
    }
    if (dropped.empty()) {
      if (report_if_empty) t_->handler_->HandleUnreachable(id_);
      return;
    }
    t_->counters_.dropped_unreachable += dropped.size();
    for (const GroupMessage& gm : dropped) {
      if (gm.message.type == raft::MessageType::kSnap) {
        ++t_->counters_.snapshots_failed;
        t_->handler_->HandleSnapshotStatus(gm.group, id_, false);
      }
    }
    t_->handler_->HandleUnreachable(id_);
  }

  bool stopping() {
    std::lock_guard<std::mutex> l(mu_);
    return stop_;
  }

  static std::string Describe(const grpc::Status& st) {
    return " code=" + std::to_string(st.error_code()) + " message=" + st.error_message();
  }

  GrpcTransport* t_;
  const NodeId id_;
  const std::string address_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GroupMessage> queue_;         // guarded by mu_
  bool stop_ = false;                      // guarded by mu_
  grpc::ClientContext* stream_ctx_ = nullptr;  // guarded by mu_
  grpc::ClientContext* snap_ctx_ = nullptr;    // guarded by mu_
  std::thread thread_;
};

// ---- GrpcTransport ------------------------------------------------------------------------

GrpcTransport::GrpcTransport(GrpcTransportOptions options) : options_(std::move(options)) {}

GrpcTransport::~GrpcTransport() { Stop(); }

absl::Status GrpcTransport::Start(TransportHandler* handler) {
  handler_ = handler;
  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  for (grpc::Service* extra : options_.extra_services) builder.RegisterService(extra);
  builder.SetMaxReceiveMessageSize(options_.message_bytes_max);
  builder.SetMaxSendMessageSize(options_.message_bytes_max);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError("raft transport: cannot listen on " + options_.listen_address);
  }
  std::lock_guard<std::mutex> l(peers_mu_);
  started_ = true;
  return absl::OkStatus();
}

void GrpcTransport::Stop() {
  std::map<NodeId, std::shared_ptr<Peer>> peers;
  {
    std::lock_guard<std::mutex> l(peers_mu_);
    if (stopped_) return;
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [id, peer] : peers) peer->Stop();
  peers.clear();
  if (server_) {
    // Incoming streams never end by themselves: cancel them after a short grace period.
    server_->Shutdown(Clock::now() + std::chrono::milliseconds(100));
    server_->Wait();
    server_.reset();
  }
}

void GrpcTransport::AddPeer(NodeId peer, const std::string& address) {
  std::shared_ptr<Peer> old;
  {
    std::lock_guard<std::mutex> l(peers_mu_);
    if (stopped_ || !started_) return;
    auto it = peers_.find(peer);
    if (it != peers_.end()) old = std::move(it->second);
    peers_[peer] = std::make_shared<Peer>(this, peer, address);
  }
  if (old) old->Stop();
}

void GrpcTransport::RemovePeer(NodeId peer) {
  std::shared_ptr<Peer> old;
  {
    std::lock_guard<std::mutex> l(peers_mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    old = std::move(it->second);
    peers_.erase(it);
  }
  old->Stop();
}

void GrpcTransport::Send(NodeId to, std::vector<GroupMessage> batch) {
  std::shared_ptr<Peer> peer;
  {
    std::lock_guard<std::mutex> l(peers_mu_);
    auto it = peers_.find(to);
    if (it != peers_.end()) peer = it->second;
  }
  if (!peer) {
    counters_.dropped_unreachable += batch.size();
    for (const GroupMessage& gm : batch) {
      if (gm.message.type == raft::MessageType::kSnap && handler_ != nullptr) {
        handler_->HandleSnapshotStatus(gm.group, to, false);
      }
    }
    return;
  }
  peer->Enqueue(std::move(batch));
}

TransportStats GrpcTransport::stats() const {
  TransportStats s;
  s.messages_sent = counters_.messages_sent;
  s.batches_sent = counters_.batches_sent;
  s.messages_received = counters_.messages_received;
  s.messages_dropped_queue_full = counters_.dropped_queue_full;
  s.messages_dropped_unreachable = counters_.dropped_unreachable;
  s.snapshots_sent = counters_.snapshots_sent;
  s.snapshots_failed = counters_.snapshots_failed;
  s.reconnects = counters_.reconnects;
  return s;
}

}  // namespace sluice::transport
