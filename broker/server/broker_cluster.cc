// Broker: cluster mode (README "Cluster"). The broker reaches the cluster through ClusterNode
// (broker/cluster/) and the commit log; this file is the glue between them and the shards.
#include <boost/asio/post.hpp>

#include "base/hash.h"
#include "base/log.h"
#include "broker/server/broker.h"

namespace sluice::broker {

namespace asio = boost::asio;

absl::Status Broker::StartCluster(Durable::ClusterOptions* options) {
  absl::StatusOr<std::unique_ptr<ClusterNode>> node = ClusterNode::Create(
      config_.cluster,
      [this](NodeId from, storage::Record record) { FromPeer(from, std::move(record)); });
  if (!node.ok()) return node.status();
  cluster_ = std::move(*node);
  options->transport = cluster_->transport();
  options->members = cluster_->members();
  options->applied_listener = [this](std::vector<storage::AppliedRecord> records) {
    OnApplied(std::move(records));
  };
  // Session claims (session_claims.h): each shard waits for its CONNECTs' claims and takes
  // over its connections that newer claims supersede. Before the log opens: its replay
  // hands old claims to the shards, which find no connection to touch.
  for (auto& shard : shards_) {
    shard->EnableClaims(NodeId(static_cast<uint64_t>(config_.cluster.node_id)), kClaimsWaitingMax);
  }
  options->event_listener = [this](LogIndex, std::string_view event) { OnEvent(event); };
  return absl::OkStatus();
}

void Broker::OnEvent(std::string_view event) {
  // The log's driver thread: the claim goes to its client id's home shard, in log order.
  absl::StatusOr<cluster::Claim> claim = cluster::DecodeClaim(event);
  if (!claim.ok()) {
    SLOG(kWarn).Kv("error", claim.status().message()) << "metadata event not understood: ignored";
    return;
  }
  shards_[HomeShard(claim->client_id)]->claims()->OnApplied(std::move(*claim));
}

void Broker::OnApplied(std::vector<storage::AppliedRecord> records) {
  // The log's driver thread: decode, and hand each record to its partition's owner shard,
  // which routes it in offset order (and skips what it had routed before: the replay of
  // Open, or records below the watermarks the shards started from).
  const int64_t now_ms = clock_->NowMs();
  const int64_t wall_ms = clock_->WallMs();
  for (storage::AppliedRecord& a : records) {
    absl::StatusOr<storage::Record> r = storage::DecodeRecord(a.record);
    if (!r.ok()) {
      SLOG(kError).Kv("partition", a.partition.value()).Kv("offset", a.offset.value())
          << "undecodable record in the commit log: not routed";
      continue;
    }
    absl::StatusOr<std::shared_ptr<Message>> m =
        Durable::ToMessage(*r, a.partition.value(), static_cast<int64_t>(a.offset.value()),
                           now_ms, wall_ms);
    if (!m.ok()) {
      SLOG(kError).Kv("partition", a.partition.value()).Kv("offset", a.offset.value())
          .Kv("error", m.status().message()) << "record not routed";
      continue;
    }
    Shard& owner = *shards_[a.partition.value() % shards_.size()];
    owner.EnqueueStored(Shard::StoredResult{std::move(*m), absl::OkStatus(), nullptr, nullptr});
  }
}

void Broker::ToPeers(const Message& message) {
  if (!cluster_ || (!message.topic.empty() && message.topic[0] == '$')) return;
  cluster_->Broadcast(Durable::ToRecord(message));
}

void Broker::FromPeer(NodeId from, storage::Record record) {
  // A gRPC thread. One topic always goes to the same shard: a peer's messages of a topic
  // keep their order.
  Shard* shard = shards_[Fnv1a64(record.topic) % shards_.size()].get();
  asio::post(shard->io(), [shard, record = std::move(record)]() mutable {
    // Wall time 0: received now (not from the log), whatever the record's timestamp.
    absl::StatusOr<std::shared_ptr<Message>> m =
        Durable::ToMessage(record, 0, -1, shard->NowMs(), 0);
    if (!m.ok()) return;
    shard->Route(std::move(*m));
  });
}

}  // namespace sluice::broker
