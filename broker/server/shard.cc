#include "broker/server/shard.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace asio = boost::asio;

Shard::Shard(Broker* broker, uint32_t index, uint64_t seed, const Clock* clock)
    : broker_(broker), index_(index), clock_(clock), rng_(seed),
      router_(index, broker->shard_count(), this, &rng_) {
  poller_ = std::make_unique<Poller>(
      io_, [this](const std::vector<Poller::Ready>& batch) { OnPollBatch(batch); });
}

Shard::~Shard() {
  tearing_down_ = true;
  connections_.clear();
  poll_hold_.clear();
  dirty_.clear();
  flushing_.clear();
}

int64_t Shard::NowMs() const { return clock_->NowMs(); }

void Shard::StartThread() {
  router_.SetShards(broker_->shard_count());
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    io_.run();
    std::lock_guard<std::mutex> lock(finished_mu_);
    finished_ = true;
    finished_cv_.notify_all();
  });
}

void Shard::ReleaseWork() { work_.reset(); }

bool Shard::WaitFinished(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(finished_mu_);
  return finished_cv_.wait_until(lock, deadline, [this] { return finished_; });
}

void Shard::StopIo() {
  work_.reset();
  io_.stop();
}

void Shard::Shutdown() {
  shutting_down_ = true;  // a cursor tick already queued must not re-arm the timer
  if (cursor_timer_) cursor_timer_->cancel();
  DisconnectAll(mqtt::reason::kServerShuttingDown);
  for (auto& [id, host] : sessions_) host->lifecycle_timer.cancel();
}

void Shard::ScheduleDeadline(Connection* c, int64_t deadline_ms) {
  wheel_.Schedule(c, deadline_ms);
  ArmWheelTimer();
}

void Shard::ArmWheelTimer() {
  if (wheel_timer_armed_ || wheel_.size() == 0) return;
  if (!wheel_timer_) wheel_timer_ = std::make_unique<asio::steady_timer>(io_);
  wheel_timer_armed_ = true;
  wheel_timer_->expires_after(std::chrono::milliseconds(DeadlineWheel::kTickMs));
  wheel_timer_->async_wait([this](const boost::system::error_code&) { OnWheelTick(); });
}

void Shard::CancelDeadline(Connection* c) { wheel_.Cancel(c); }

void Shard::OnWheelTick() {
  wheel_timer_armed_ = false;
  wheel_due_.clear();
  wheel_.Expire(NowMs(), &wheel_due_);
  // Each due connection is held first: one's OnDeadline may release another.
  std::vector<std::shared_ptr<Connection>> due;
  due.reserve(wheel_due_.size());
  for (DeadlineWheel::Entry* e : wheel_due_) due.push_back(static_cast<Connection*>(e)->shared_from_this());
  for (auto& c : due) c->OnDeadline();
  ArmWheelTimer();
}

void Shard::JoinThread() {
  if (thread_.joinable()) thread_.join();
}

SessionHost* Shard::Find(std::string_view client_id) {
  auto it = sessions_.find(Av(client_id));
  return it == sessions_.end() ? nullptr : it->second.get();
}

SessionHost* Shard::TakeSession(const std::string& client_id, bool clean_start,
                                std::shared_ptr<Connection> connection, bool* session_present) {
  *session_present = false;
  if (SessionHost* host = Find(client_id)) {
    host->generation++;
    host->lifecycle_timer.cancel();
    host->lifecycle.Connected();  // reconnected within the will delay: not sent
    host->pending_will.reset();
    if (host->connection) {
      std::shared_ptr<Connection> old = std::move(host->connection);
      host->connection = nullptr;
      host->session.Detach();
      old->TakenOver(clean_start);
    }
    if (!clean_start) {
      *session_present = true;
      host->connection = std::move(connection);
      return host;
    }
    DestroySession(client_id);
  }
  auto host = std::make_unique<SessionHost>(client_id, broker_->SessionLimitsNow());
  SessionHost* raw = host.get();
  raw->connection = std::move(connection);
  sessions_.emplace(Av(raw->session.client_id()), std::move(host));
  return raw;
}

void Shard::OnConnectionClosed(SessionHost* host, const Connection* connection,
                               Boxed<mqtt::Will> will) {
  if (host->connection.get() != connection) return;
  host->connection.reset();
  // A session that lives on keeps no backlog in memory while its client is away: it reads it
  // back from the log when the client returns (session.h).
  host->session.Detach(host->expiry_s == 0 ? nullptr : &watermark_);
  host->generation++;
  // Will delay and session expiry: decided by the session's lifecycle (session/lifecycle.h).
  const uint32_t delay = will ? will->properties.will_delay_interval.value_or(0) : 0;
  const SessionLifecycle::Actions now =
      host->lifecycle.Disconnected(NowMs(), will.has_value(), delay, host->expiry_s);
  if (now.publish_will) {
    PublishWill(*will, host->session.client_id());
  } else if (will) {
    host->pending_will = std::move(will);
  }
  if (now.end_session) {
    DestroySession(host->session.client_id());
    return;
  }
  if (host->durable) {
    SaveSession(host, nullptr);  // disconnect time and the unacknowledged packet ids
    CommitCursors(host);
  }
  ArmLifecycle(host);
}

void Shard::ArmLifecycle(SessionHost* host) {
  std::optional<int64_t> at = host->lifecycle.NextDeadlineMs();
  if (!at) return;
  const uint64_t generation = host->generation;
  std::string client_id = host->session.client_id();
  boost::asio::steady_timer& timer = host->lifecycle_timer.Get(io_);
  timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, *at - NowMs())));
  timer.async_wait([this, generation, client_id](const boost::system::error_code& ec) {
    if (ec) return;
    SessionHost* h = Find(client_id);
    if (!h || h->generation != generation || h->connection) return;
    OnLifecycleTime(h);
  });
}

void Shard::OnLifecycleTime(SessionHost* host) {
  const std::string client_id = host->session.client_id();
  const SessionLifecycle::Actions due = host->lifecycle.OnTime(NowMs());
  if (due.publish_will && host->pending_will) {
    mqtt::Will will = std::move(*host->pending_will);
    host->pending_will.reset();
    PublishWill(will, client_id);
  }
  if (due.end_session) {
    BrokerStats::Inc(stats_.sessions_expired);
    SLOG(kDebug).Kv("client_id", client_id) << "session expired";
    DestroySession(client_id);
    return;
  }
  ArmLifecycle(host);  // the expiry after the will, or a timer that fired early
}

SessionHost* Shard::RestoreSession(const std::string& client_id, mqtt::Version version,
                                   uint32_t expiry_s) {
  DestroySession(client_id);
  auto host = std::make_unique<SessionHost>(client_id, broker_->SessionLimitsNow());
  SessionHost* raw = host.get();
  raw->version = version;
  raw->expiry_s = expiry_s;
  sessions_.emplace(Av(raw->session.client_id()), std::move(host));
  raw->lifecycle.Restored(NowMs(), expiry_s);
  ArmLifecycle(raw);
  return raw;
}

void Shard::DestroySession(const std::string& client_id_ref) {
  // The caller's string may live in the session about to be erased.
  std::string client_id = client_id_ref;
  auto it = sessions_.find(Av(client_id));
  if (it == sessions_.end()) return;
  ForgetDurableSession(it->second.get());
  std::vector<std::pair<std::string, std::string>> removes;
  for (const auto& [full, options] : it->second->session.subscriptions()) {
    topic::ParsedFilter parsed;
    if (topic::ParseFilter(full, &parsed))
      removes.emplace_back(std::string(parsed.filter), std::string(parsed.group));
  }
  sessions_.erase(it);
  RemoveFromTries(client_id, std::move(removes));
}

void Shard::PublishWill(const mqtt::Will& will, const std::string& client_id) {
  BrokerStats::Inc(stats_.wills_published);
  auto message = std::make_shared<Message>();
  message->topic = will.topic;
  message->payload = will.payload;
  message->qos = will.qos;
  message->retain = will.retain;
  message->properties = will.properties;
  message->properties.will_delay_interval.reset();
  message->publisher = client_id;
  message->received_ms = NowMs();
  if (broker_->IsDeniedPublishNow(message->topic)) return;
  if (!broker_->StoresBeforeRouting(*message)) {
    PublishNow(std::move(message));
    return;
  }
  const uint32_t partition = broker_->durable()->PartitionFor(message->topic);
  PublishStored(std::move(message), partition, 0, [client_id](absl::StatusOr<size_t> r) {
    if (!r.ok())
      SLOG(kWarn).Kv("client_id", client_id).Kv("error", r.status().message())
          << "will message not stored, dropped";
  });
}

size_t Shard::Route(const MessagePtr& message) {
  BrokerStats::Inc(stats_.messages_received);
  BrokerStats::Inc(stats_.messages_received_qos[std::min<uint8_t>(message->qos, 2)]);
  return router_.Route(message, broker_->config().shared_subscription_strategy == "random");
}

void Shard::Post(uint32_t shard, Router::Batch batch) {
  Shard* target = &broker_->shard(shard);
  asio::post(target->io(), [target, batch = std::move(batch)]() mutable {
    for (auto& [client_id, delivery] : batch) target->Deliver(client_id, std::move(delivery));
  });
}

void Shard::Deliver(std::string_view client_id, Delivery delivery) {
  // A stored message reaches this shard in its partition's offset order (its owner routes
  // them so, and posts are FIFO): every message of the partition below it that matched a
  // session here has arrived. Sessions leaving now count on that (Session::Detach).
  if (const Message& m = *delivery.message; m.offset >= 0 && m.partition < watermark_.size() &&
                                            !delivery.retained_copy) {
    watermark_[m.partition] = std::max(watermark_[m.partition], m.offset + 1);
  }
  SessionHost* host = Find(client_id);
  if (!host) return;  // the session ended after the match: nothing to deliver to
  std::vector<Outbound>& out = deliver_out_;
  out.clear();
  if (delivery.message->offset >= 0) MarkDirty(host);
  OfferResult r = host->session.Offer(std::move(delivery), NowMs(), &out);
  switch (r) {
    case OfferResult::kDeferred:
      // Left in the log: the session reads it back when it has room (not a drop).
      BrokerStats::Inc(stats_.messages_deferred_to_log);
      break;
    case OfferResult::kDroppedQueueFull:
      BrokerStats::Inc(stats_.messages_dropped_queue_full);
    {
      // Every drop is counted; the log says so at the 1st, 2nd, 4th, 8th... drop of a
      // session, so a flood of drops cannot flood the log.
      uint64_t dropped = host->session.counters().dropped_queue_full;
      if ((dropped & (dropped - 1)) == 0) {
        SLOG(kWarn).Kv("client_id", client_id).Kv("queued", host->session.queued())
                .Kv("dropped_total", dropped)
            << "session queue full, message dropped";
      }
      break;
    }
    case OfferResult::kDroppedOffline:
      BrokerStats::Inc(stats_.messages_dropped_offline_qos0);
      break;
    case OfferResult::kDroppedExpired:
      BrokerStats::Inc(stats_.messages_dropped_expired);
      break;
    default:
      break;
  }
  if (host->connection && !out.empty()) host->connection->SendOutbound(out);
  out.clear();  // drop the message references now, keep the capacity
}

void Shard::ScheduleFlush(std::shared_ptr<Connection> c) {
  dirty_.push_back(std::move(c));
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    flushing_.swap(dirty_);
    for (auto& c : flushing_) c->Flush();
    flushing_.clear();
  });
}

void Shard::DisconnectAll(uint8_t reason) {
  std::vector<std::shared_ptr<Connection>> all(connections_.begin(), connections_.end());
  for (auto& c : all) c->Disconnect(reason, "server shutting down");
}

void Shard::ReleaseConnection(Connection* c) {
  auto it = connections_.find(c);
  if (it == connections_.end()) return;
  std::shared_ptr<Connection> held = *it;
  connections_.erase(it);
  asio::post(io_, [held = std::move(held)] {});
}

void Shard::OnPollBatch(const std::vector<Poller::Ready>& batch) {
  // Every connection of the batch is held before any runs: one's handler may close another.
  poll_hold_.clear();
  for (const Poller::Ready& r : batch)
    poll_hold_.push_back(static_cast<Connection*>(r.tag)->shared_from_this());
  for (size_t i = 0; i < batch.size(); ++i) poll_hold_[i]->OnPollEvents(batch[i].events);
  poll_hold_.clear();
}

std::vector<const SessionHost*> Shard::Sessions() const {
  std::vector<const SessionHost*> out;
  for (const auto& [id, host] : sessions_) out.push_back(host.get());
  return out;
}

}  // namespace sluice::broker
