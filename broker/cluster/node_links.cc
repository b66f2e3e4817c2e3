#include "broker/cluster/node_links.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "proto/node.grpc.pb.h"

namespace sluice::broker {

namespace pb = ::sluice::node::v1;
using Clock = std::chrono::system_clock;

class NodeLinks::Service final : public pb::Node::Service {
 public:
  explicit Service(NodeLinks* links) : links_(links) {}

  grpc::Status Publish(grpc::ServerContext*, grpc::ServerReader<pb::PublishBatch>* reader,
                       pb::PublishSummary* summary) override {
    pb::PublishBatch batch;
    uint64_t n = 0;
    while (reader->Read(&batch)) {
      if (batch.to_node() != links_->options_.self.value())
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "batch for another node");
      ++n;
      if (links_->stopped_.load()) continue;
      const NodeId from(batch.from_node());
      for (const std::string& bytes : batch.records()) {
        absl::StatusOr<storage::Record> r = storage::DecodeRecord(bytes);
        if (!r.ok()) {
          ++links_->counters_.decode_errors;
          continue;
        }
        ++links_->counters_.received;
        links_->sink_(from, std::move(*r));
      }
    }
    summary->set_batches_received(n);
    return grpc::Status::OK;
  }

 private:
  NodeLinks* links_;
};

// One peer: a queue of encoded records and the thread that streams them.
class NodeLinks::Link {
 public:
  Link(NodeLinks* links, NodeId id, std::string address)
      : links_(links), id_(id), address_(std::move(address)) {}
  ~Link() { Stop(); }

  void Start() { thread_ = std::thread([this] { Run(); }); }

  void Enqueue(std::shared_ptr<const std::string> record) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (queue_.size() >= links_->options_.queue_max) {
        ++links_->counters_.dropped_full;
        ++dropped_;
        return;
      }
      queue_.push_back(std::move(record));
      ++links_->counters_.queued;
    }
    cv_.notify_one();
  }

  PeerLinkStats Stats() const {
    PeerLinkStats s;
    s.peer = id_;
    s.address = address_;
    s.messages_sent = sent_.load();
    s.dropped = dropped_.load();
    std::lock_guard<std::mutex> l(mu_);
    s.queued = queue_.size();
    s.connected = channel_ != nullptr && !stop_ && channel_->GetState(false) == GRPC_CHANNEL_READY;
    return s;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      stop_ = true;
      if (ctx_) ctx_->TryCancel();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool stopping() {
    std::lock_guard<std::mutex> l(mu_);
    return stop_;
  }
  void DropQueued() {
    std::lock_guard<std::mutex> l(mu_);
    links_->counters_.dropped_unreachable += queue_.size();
    dropped_ += queue_.size();
    links_->counters_.queued -= queue_.size();
    queue_.clear();
  }

  void Run() {
    const Options& o = links_->options_;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(o.reconnect_backoff_initial_ms));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(o.reconnect_backoff_initial_ms));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(o.reconnect_backoff_max_ms));
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    {
      std::lock_guard<std::mutex> l(mu_);
      channel_ = channel;
    }
    std::unique_ptr<pb::Node::Stub> stub = pb::Node::NewStub(channel);
    int64_t backoff_ms = o.reconnect_backoff_initial_ms;
    bool first = true;
    while (!stopping()) {
      if (!first) ++links_->counters_.reconnects;
      first = false;
      if (!channel->WaitForConnected(Clock::now() + std::chrono::milliseconds(backoff_ms))) {
        DropQueued();  // QoS 0 does not wait for a peer that is down
        backoff_ms = std::min(backoff_ms * 2, o.reconnect_backoff_max_ms);
        continue;
      }
      backoff_ms = o.reconnect_backoff_initial_ms;
      if (!RunStream(*stub)) DropQueued();
    }
  }

  // Streams queued records until stop (true) or a broken stream (false).
  bool RunStream(pb::Node::Stub& stub) {
    grpc::ClientContext ctx;
    pb::PublishSummary summary;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return true;
      ctx_ = &ctx;
    }
    std::unique_ptr<grpc::ClientWriter<pb::PublishBatch>> writer = stub.Publish(&ctx, &summary);
    bool broken = false;
    std::vector<std::shared_ptr<const std::string>> take;
    while (!broken) {
      take.clear();
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        const size_t n = std::min<size_t>(queue_.size(), links_->options_.batch_max);
        take.assign(std::make_move_iterator(queue_.begin()),
                    std::make_move_iterator(queue_.begin() + n));
        queue_.erase(queue_.begin(), queue_.begin() + n);
        links_->counters_.queued -= n;
      }
      pb::PublishBatch batch;
      batch.set_from_node(links_->options_.self.value());
      batch.set_to_node(id_.value());
      for (const auto& r : take) batch.add_records(*r);
      if (writer->Write(batch)) {
        links_->counters_.sent += take.size();
        sent_ += take.size();
        ++links_->counters_.batches;
      } else {
        links_->counters_.dropped_unreachable += take.size();
        dropped_ += take.size();
        broken = true;
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ctx_ = nullptr;
    }
    if (broken || stopping()) {
      ctx.TryCancel();
    } else {
      writer->WritesDone();
    }
    grpc::Status st = writer->Finish();
    if (broken) SLOG(kDebug).Kv("peer", id_.value()).Kv("error", st.error_message()) << "node link broken";
    return !broken;
  }

  NodeLinks* links_;
  const NodeId id_;
  const std::string address_;
  std::atomic<uint64_t> sent_{0}, dropped_{0};
  mutable std::mutex mu_;
  std::shared_ptr<grpc::Channel> channel_;  // set once by Run
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool stop_ = false;
  grpc::ClientContext* ctx_ = nullptr;
  std::thread thread_;
};

NodeLinks::NodeLinks(Options options, Sink sink)
    : options_(std::move(options)), sink_(std::move(sink)),
      service_(std::make_unique<Service>(this)) {
  for (const auto& [id, address] : options_.peers) {
    if (id == options_.self) continue;
    links_.emplace(id, std::make_unique<Link>(this, id, address));
  }
}

NodeLinks::~NodeLinks() { Stop(); }

grpc::Service* NodeLinks::service() { return service_.get(); }

void NodeLinks::Start() {
  for (auto& [id, link] : links_) link->Start();
}

void NodeLinks::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& [id, link] : links_) link->Stop();
}

void NodeLinks::Broadcast(const storage::Record& record) {
  if (links_.empty() || stopped_.load(std::memory_order_relaxed)) return;
  auto encoded = std::make_shared<const std::string>(storage::EncodeRecord(record));
  for (auto& [id, link] : links_) link->Enqueue(encoded);
}

std::vector<PeerLinkStats> NodeLinks::peer_stats() const {
  std::vector<PeerLinkStats> out;
  for (const auto& [id, link] : links_) out.push_back(link->Stats());
  return out;
}

NodeLinkStats NodeLinks::stats() const {
  NodeLinkStats s;
  s.messages_sent = counters_.sent.load();
  s.batches_sent = counters_.batches.load();
  s.messages_received = counters_.received.load();
  s.dropped_queue_full = counters_.dropped_full.load();
  s.dropped_unreachable = counters_.dropped_unreachable.load();
  s.decode_errors = counters_.decode_errors.load();
  s.reconnects = counters_.reconnects.load();
  s.queued = counters_.queued.load();
  return s;
}

}  // namespace sluice::broker
