// Admin and introspection methods of Broker (declared in the admin block of broker.h).
//
// Everything about a client id lives on its home shard, so reading or changing it means
// posting a function to that shard's io_context and waiting for the answer. The wait is
// bounded: a shard that does not answer within kAdminWaitMs (it is stuck, or the broker is
// stopping) turns into DeadlineExceeded instead of a hung admin call. The posted functions own
// copies of everything they use, since they may still run after the caller gave up.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <optional>

#include <utility>
#include <boost/asio/post.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {
namespace {

namespace asio = boost::asio;

// Results of one function run on several shards, filled in by the shards' threads.
template <typename T>
struct Gather {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<T>> results;
  size_t pending = 0;
};

// Runs fn(shard) on each of `shards` (indexes) and returns the results in that order.
template <typename T>
absl::StatusOr<std::vector<T>> RunOnShards(Broker& broker, const std::vector<uint32_t>& shards,
                                          std::function<T(Shard&)> fn) {
  auto gather = std::make_shared<Gather<T>>();
  gather->results.resize(shards.size());
  gather->pending = shards.size();
  auto shared_fn = std::make_shared<std::function<T(Shard&)>>(std::move(fn));
  for (size_t i = 0; i < shards.size(); ++i) {
    Shard* shard = &broker.shard(shards[i]);
    asio::post(shard->io(), [gather, shared_fn, shard, i] {
      T result = (*shared_fn)(*shard);
      std::lock_guard<std::mutex> lock(gather->mu);
      gather->results[i] = std::move(result);
      if (--gather->pending == 0) gather->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(gather->mu);
  if (!gather->cv.wait_for(lock, std::chrono::milliseconds(Broker::kAdminWaitMs),
                           [&] { return gather->pending == 0; })) {
    for (size_t i = 0; i < shards.size(); ++i)
      if (!gather->results[i])
        return absl::DeadlineExceededError("shard " + std::to_string(shards[i]) +
                                           " did not answer within " +
                                           std::to_string(Broker::kAdminWaitMs) + " ms");
  }
  std::vector<T> out;
  out.reserve(shards.size());
  for (auto& r : gather->results) out.push_back(std::move(*r));
  return out;
}

template <typename T>
absl::StatusOr<std::vector<T>> RunOnAllShards(Broker& broker, std::function<T(Shard&)> fn) {
  std::vector<uint32_t> all(broker.shard_count());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  return RunOnShards<T>(broker, all, std::move(fn));
}

template <typename T>
absl::StatusOr<T> RunOnShard(Broker& broker, uint32_t shard, std::function<T(Shard&)> fn) {
  auto r = RunOnShards<T>(broker, {shard}, std::move(fn));
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

// Sessions are listed through const pointers; their subscription map has only a mutable
// accessor. We are on the owning shard's thread and only read.
std::map<std::string, topic::SubscriptionOptions>& SubscriptionsOf(const SessionHost* host) {
  return const_cast<SessionHost*>(host)->session.subscriptions();
}

// Records behind `host`'s session per partition: from the first it still needs to the high
// watermark (`hwm`, read once per admin call). A live partition is only behind by what its
// window and read-ahead hold (the shard's watermark may trail the log by a cursor round).
uint64_t Lag(const SessionHost* host, const std::vector<int64_t>& hwm,
             std::vector<std::pair<uint32_t, uint64_t>>* per_partition) {
  uint64_t total = 0;
  for (uint32_t p = 0; p < hwm.size(); ++p) {
    const int64_t first = host->session.FirstNeeded(p, hwm[p]);
    if (first >= hwm[p]) continue;
    const uint64_t behind = static_cast<uint64_t>(hwm[p] - first);
    total += behind;
    if (per_partition) per_partition->emplace_back(p, behind);
  }
  return total;
}

Broker::ClientInfo Describe(const Shard& shard, const SessionHost* host,
                            const std::vector<int64_t>& hwm) {
  Broker::ClientInfo c;
  c.lag_records = Lag(host, hwm, &c.lag);
  c.read_from_log = host->session.counters().read_from_log;
  c.records_lost = host->session.counters().records_lost;
  c.client_id = host->session.client_id();
  c.connected = host->connection != nullptr;
  c.version = host->version;
  c.shard = shard.index();
  c.expiry_s = host->expiry_s;
  c.inflight = host->session.inflight();
  c.queued = host->session.queued();
  c.subscriptions = SubscriptionsOf(host).size();
  c.dropped_queue_full = host->session.counters().dropped_queue_full;
  c.dropped_expired = host->session.counters().dropped_expired;
  c.will_pending = host->pending_will.has_value();
  if (host->connection != nullptr) {
    c.peer = host->connection->peer();
    c.connected_unix_ms = host->connection->created_unix_ms();
  }
  return c;
}

struct Status2 {  // RunOnShard's result must be default-constructible apart from the status
  absl::Status status;
};

}  // namespace

absl::StatusOr<std::vector<Broker::ClientInfo>> Broker::ListClients(const ClientQuery& query) {
  ClientQuery q = query;
  const std::vector<int64_t> hwm = durable_ ? durable_->HighWatermarks() : std::vector<int64_t>();
  auto per_shard = RunOnAllShards<std::vector<ClientInfo>>(*this, [q, hwm](Shard& shard) {
    std::vector<ClientInfo> out;
    for (const SessionHost* host : shard.Sessions()) {
      const std::string& id = host->session.client_id();
      if (!q.prefix.empty() && id.compare(0, q.prefix.size(), q.prefix) != 0) continue;
      if (!q.after.empty() && id <= q.after) continue;
      bool connected = host->connection != nullptr;
      if (q.state == ClientQuery::State::kConnected && !connected) continue;
      if (q.state == ClientQuery::State::kDisconnected && connected) continue;
      out.push_back(Describe(shard, host, hwm));
    }
    // Each shard returns only its first `limit`: the merged first `limit` are among them.
    auto by_id = [](const ClientInfo& a, const ClientInfo& b) { return a.client_id < b.client_id; };
    if (out.size() > q.limit) {
      std::partial_sort(out.begin(), out.begin() + q.limit, out.end(), by_id);
      out.resize(q.limit);
    }
    return out;
  });
  if (!per_shard.ok()) return per_shard.status();
  std::vector<ClientInfo> all;
  for (auto& v : *per_shard)
    for (auto& c : v) all.push_back(std::move(c));
  std::sort(all.begin(), all.end(),
            [](const ClientInfo& a, const ClientInfo& b) { return a.client_id < b.client_id; });
  if (all.size() > q.limit) all.resize(q.limit);
  return all;
}

absl::StatusOr<Broker::ClientInfo> Broker::GetClient(const std::string& client_id) {
  const std::vector<int64_t> hwm = durable_ ? durable_->HighWatermarks() : std::vector<int64_t>();
  auto r = RunOnShard<std::optional<ClientInfo>>(
      *this, HomeShard(client_id), [client_id, hwm](Shard& shard) -> std::optional<ClientInfo> {
        const SessionHost* host = shard.Find(client_id);
        if (!host) return std::nullopt;
        return Describe(shard, host, hwm);
      });
  if (!r.ok()) return r.status();
  if (!*r) return absl::NotFoundError("no session for client id '" + client_id + "'");
  return std::move(**r);
}

absl::Status Broker::KickClient(const std::string& client_id, bool discard_session) {
  auto r = RunOnShard<Status2>(
      *this, HomeShard(client_id), [client_id, discard_session](Shard& shard) -> Status2 {
        SessionHost* host = shard.Find(client_id);
        if (!host) return {absl::NotFoundError("no session for client id '" + client_id + "'")};
        if (!host->connection && !discard_session)
          return {absl::FailedPreconditionError(
              "client '" + client_id +
              "' is not connected (its session is kept; use --discard-session to end it)")};
        BrokerStats::Inc(shard.stats().clients_kicked);
        SLOG(kInfo).Kv("client_id", client_id).Kv("discard_session", discard_session)
            << "client kicked by administrator";
        if (host->connection) {
          // Hold a reference: Disconnect detaches the connection from the session.
          std::shared_ptr<Connection> connection = host->connection;
          connection->Disconnect(mqtt::reason::kAdministrativeAction, "kicked by administrator");
        }
        if (discard_session) shard.DestroySession(client_id);
        return {absl::OkStatus()};
      });
  if (!r.ok()) return r.status();
  return r->status;
}

absl::StatusOr<std::vector<Broker::SubscriptionInfo>> Broker::ListSubscriptions(
    const std::string& client_id, const std::string& filter, size_t limit) {
  auto collect = [client_id, filter, limit](Shard& shard) {
    std::vector<SubscriptionInfo> out;
    auto add_host = [&](const SessionHost* host) {
      for (const auto& [f, options] : SubscriptionsOf(host)) {
        if (!filter.empty() && f != filter) continue;
        out.push_back({host->session.client_id(), f, options});
      }
    };
    if (!client_id.empty()) {
      if (const SessionHost* host = shard.Find(client_id)) add_host(host);
    } else {
      for (const SessionHost* host : shard.Sessions()) add_host(host);
    }
    auto order = [](const SubscriptionInfo& a, const SubscriptionInfo& b) {
      return std::tie(a.client_id, a.filter) < std::tie(b.client_id, b.filter);
    };
    if (out.size() > limit) {
      std::partial_sort(out.begin(), out.begin() + limit, out.end(), order);
      out.resize(limit);
    }
    return out;
  };
  absl::StatusOr<std::vector<std::vector<SubscriptionInfo>>> per_shard =
      client_id.empty()
          ? RunOnAllShards<std::vector<SubscriptionInfo>>(*this, collect)
          : RunOnShards<std::vector<SubscriptionInfo>>(*this, {HomeShard(client_id)}, collect);
  if (!per_shard.ok()) return per_shard.status();
  std::vector<SubscriptionInfo> all;
  for (auto& v : *per_shard)
    for (auto& s : v) all.push_back(std::move(s));
  std::sort(all.begin(), all.end(), [](const SubscriptionInfo& a, const SubscriptionInfo& b) {
    return std::tie(a.client_id, a.filter) < std::tie(b.client_id, b.filter);
  });
  if (all.size() > limit) all.resize(limit);
  return all;
}

absl::Status Broker::DeleteRetained(const std::string& topic_name) {
  if (!topic::IsValidTopicName(topic_name))
    return absl::InvalidArgumentError("'" + topic_name +
                                      "' is not a topic name (no wildcards, not empty)");
  if (!retained_.Erase(topic_name))
    return absl::NotFoundError("no retained message on topic '" + topic_name + "'");
  if (durable_) {
    // An empty retained record clears the log's copy too (what a client's empty retained
    // PUBLISH does); it is durable when this returns.
    storage::Record clear;
    clear.topic = topic_name;
    clear.retain = true;
    auto done = durable_->log().Append(PartitionId(durable_->PartitionFor(topic_name)), clear);
    if (absl::StatusOr<Offset> r = done.get(); !r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<Broker::Gauges> Broker::CollectGauges() {
  const std::vector<int64_t> hwm = durable_ ? durable_->HighWatermarks() : std::vector<int64_t>();
  auto per_shard = RunOnAllShards<Gauges>(*this, [hwm](Shard& shard) {
    Gauges g;
    for (const SessionHost* host : shard.Sessions()) {
      ++g.sessions;
      if (host->connection) ++g.sessions_connected;
      g.subscriptions += SubscriptionsOf(host).size();
      g.inflight += host->session.inflight();
      g.queued += host->session.queued();
      const uint64_t lag = Lag(host, hwm, nullptr);
      g.lag_records += lag;
      size_t i = 0;
      while (i < Gauges::kLagBounds.size() && lag > Gauges::kLagBounds[i]) ++i;
      ++g.lag_buckets[i];
    }
    return g;
  });
  if (!per_shard.ok()) return per_shard.status();
  Gauges total;
  for (const Gauges& g : *per_shard) {
    total.sessions += g.sessions;
    total.sessions_connected += g.sessions_connected;
    total.subscriptions += g.subscriptions;
    total.inflight += g.inflight;
    total.queued += g.queued;
    total.lag_records += g.lag_records;
    for (size_t i = 0; i < g.lag_buckets.size(); ++i) total.lag_buckets[i] += g.lag_buckets[i];
  }
  return total;
}

absl::Status Broker::PingShards() {
  return RunOnAllShards<int>(*this, [](Shard&) { return 0; }).status();
}

void Broker::PublishRetainedFromBroker(std::string topic_name, std::string payload) {
  Shard* shard = shards_[0].get();
  asio::post(shard->io(), [this, shard, topic_name = std::move(topic_name),
                           payload = std::move(payload)]() mutable {
    auto message = std::make_shared<Message>();
    message->topic = std::move(topic_name);
    message->payload = std::move(payload);
    message->retain = true;
    message->received_ms = shard->NowMs();
    retained_.Applied(message);  // $SYS: never in the log
    shard->Route(message);
    // Route counts every message as received from a client; the broker's own are not.
    shard->stats().messages_received.fetch_sub(1, std::memory_order_relaxed);
    shard->stats().messages_received_qos[0].fetch_sub(1, std::memory_order_relaxed);
  });
}

void Broker::InjectPublish(std::shared_ptr<Message> message, std::function<void(absl::Status)> done) {
  Shard* shard = shards_[0].get();
  asio::post(shard->io(), [shard, message = std::move(message), done = std::move(done)]() mutable {
    message->received_ms = shard->NowMs();
    if (!shard->broker().StoresBeforeRouting(*message)) {
      shard->PublishNow(std::move(message));
      if (done) done(absl::OkStatus());
      return;
    }
    const uint32_t partition = shard->broker().durable()->PartitionFor(message->topic);
    shard->PublishStored(std::move(message), partition, 0,
                         [done = std::move(done)](absl::StatusOr<size_t> r) {
                           if (done) done(r.status());
                         });
  });
}

void Broker::ApplyRuntimeConfig(const RuntimeConfig& runtime) {
  std::lock_guard<std::mutex> lock(runtime_mu_);
  auto next = std::make_unique<const RuntimeConfig>(runtime);
  runtime_.store(next.get(), std::memory_order_release);
  runtime_versions_.push_back(std::move(next));
  UpdateSessionLimits(static_cast<uint32_t>(runtime.max_queued_messages));
  if (auto level = log::ParseLevel(runtime.log_level); level.ok()) log::SetLevel(*level);
  // Quiescence: a shard reads the pointer within one handler and keeps nothing across
  // handlers, so once every shard has run a handler posted after the swap, no one can hold an
  // older version. If a shard does not answer in time the old versions are kept (and freed
  // at a later reload or with the broker).
  if (runtime_versions_.size() > 1 && started_) {
    auto r = RunOnAllShards<int>(*this, [](Shard&) { return 0; });
    if (r.ok()) runtime_versions_.erase(runtime_versions_.begin(), runtime_versions_.end() - 1);
  }
}

RuntimeConfig Broker::CurrentRuntimeConfig() const {
  std::lock_guard<std::mutex> lock(runtime_mu_);
  const RuntimeConfig* r = runtime_.load(std::memory_order_acquire);
  return r ? *r : RuntimeConfig::From(config_);
}

bool Broker::IsDeniedSubscribeNow(std::string_view filter) const {
  const RuntimeConfig* r = runtime_.load(std::memory_order_acquire);
  for (const auto& rule : r ? r->deny_subscribe : config_.deny_subscribe)
    if (rule == filter || topic::Matches(rule, filter)) return true;
  return false;
}

bool Broker::IsDeniedPublishNow(std::string_view name) const {
  const RuntimeConfig* r = runtime_.load(std::memory_order_acquire);
  for (const auto& rule : r ? r->deny_publish : config_.deny_publish)
    if (topic::Matches(rule, name)) return true;
  return false;
}

void Broker::UpdateSessionLimits(uint32_t max_queued_messages) {
  auto limits = std::make_unique<SessionLimits>();
  limits->read_ahead_messages = static_cast<uint32_t>(config_.read_ahead_messages);
  limits->read_ahead_bytes = static_cast<uint64_t>(config_.read_ahead_bytes);
  limits->memory_queue_max = static_cast<uint32_t>(config_.memory_queue_max_messages);
  // The opt-in Mosquitto-like queue: every QoS 1/2 delivery waits in memory, capped.
  limits->log_backed = max_queued_messages == 0;
  limits->max_queued = max_queued_messages;
  session_limits_.store(limits.get(), std::memory_order_release);
  session_limits_versions_.push_back(std::move(limits));
}

uint32_t Broker::MaxQueuedMessagesNow() const {
  const RuntimeConfig* r = runtime_.load(std::memory_order_acquire);
  return static_cast<uint32_t>(r ? r->max_queued_messages : config_.max_queued_messages);
}

}  // namespace sluice::broker
