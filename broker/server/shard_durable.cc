// Shard: the commit log's paths (see durable.h): stored publishes, per-partition routing on
// the owner shard, persistent sessions' records and cursors.
#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/shard.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace asio = boost::asio;

uint32_t Shard::OwnerOf(uint32_t partition) const { return partition % broker_->shard_count(); }

void Shard::PublishStored(std::shared_ptr<Message> message, uint32_t partition,
                          uint16_t qos2_packet_id,
                          std::function<void(absl::StatusOr<size_t>)> done) {
  message->partition = partition;
  Shard* owner = &broker_->shard(OwnerOf(partition));
  Shard* origin = this;
  if (broker_->clustered()) {
    // Every node routes the record when its replica applies it (Broker::OnApplied), this one
    // included: the completion only acknowledges. How many sessions it reaches across the
    // cluster is not known here: "at least one" (MQTT 5 never says 0x10 in a cluster).
    broker_->durable()->log().Append(
        PartitionId(partition), Durable::ToRecord(*message), qos2_packet_id,
        [origin, done = std::move(done)](absl::StatusOr<Offset> r) mutable {
          origin->EnqueueStored({nullptr, r.status(), origin, std::move(done), 1});
        });
    return;
  }
  broker_->durable()->log().Append(
      PartitionId(partition), Durable::ToRecord(*message), qos2_packet_id,
      [owner, origin, message, done = std::move(done)](absl::StatusOr<Offset> r) mutable {
        // The log's driver thread: hand everything to the shards.
        if (!r.ok()) {
          origin->EnqueueStored({nullptr, r.status(), origin, std::move(done)});
          return;
        }
        message->offset = static_cast<int64_t>(r->value());
        owner->EnqueueStored({std::move(message), absl::OkStatus(), origin, std::move(done)});
      });
}

void Shard::EnqueueStored(StoredResult result) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(stored_mu_);
    first = stored_inbox_.empty();
    stored_inbox_.push_back(std::move(result));
  }
  if (first) asio::post(io_, [this] { DrainStored(); });
}

void Shard::DrainStored() {
  {
    std::lock_guard<std::mutex> lock(stored_mu_);
    stored_draining_.swap(stored_inbox_);
  }
  for (StoredResult& r : stored_draining_) {
    if (r.retain_only) {  // a retained QoS 0 message routed at once: its apply order
      broker_->retained().Applied(r.message);
      continue;
    }
    if (!r.origin) {  // cluster: a record this node's replica applied (Broker::OnApplied)
      if (r.message->offset >= routed_[r.message->partition]) RouteStored(r.message);
      continue;
    }
    if (!r.message) {
      r.done(r.status.ok() ? absl::StatusOr<size_t>(r.matched) : r.status);
      continue;
    }
    size_t matched = RouteStored(r.message);
    if (r.origin == this) {
      r.done(matched);
    } else {
      r.origin->EnqueueStored({nullptr, absl::OkStatus(), r.origin, std::move(r.done), matched});
    }
  }
  stored_draining_.clear();
}

size_t Shard::RouteStored(const MessagePtr& message) {
  // In the partition's apply order: the log decides which retained message a topic keeps.
  if (message->retain) broker_->retained().Applied(message);
  size_t matched = Route(message);
  int64_t& routed = routed_[message->partition];
  routed = std::max(routed, message->offset + 1);
  watermark_[message->partition] = std::max(watermark_[message->partition], routed);
  if (const auto& listener = broker_->stored_listener()) listener(message->partition, message->offset);
  return matched;
}

size_t Shard::PublishNow(std::shared_ptr<Message> message) {
  // Only a retained QoS 0 message is stored here: it is retained and routed at once (a QoS 0
  // publisher waits for nothing, and a later SUBSCRIBE must see it), and stored behind; once
  // its partition applied it, the owner shard sets it again in apply order, so the log has
  // the last word on the topic (retained_store.h).
  const bool store = broker_->IsStored(*message);
  if (store && broker_->clustered()) {
    // Routed on every node when applied (Broker::OnApplied), this one included: retained at
    // once here, so a SUBSCRIBE on this node sees it before that.
    if (message->retain) broker_->retained().SetNow(message);
    Durable& durable = *broker_->durable();
    const std::string topic = message->topic;
    durable.log().Append(PartitionId(durable.PartitionFor(topic)), Durable::ToRecord(*message), 0,
                         [topic](absl::StatusOr<Offset> r) {
                           if (!r.ok())
                             SLOG(kWarn).Kv("topic", topic).Kv("error", r.status().message())
                                 << "retained QoS 0 message not stored: not routed, not kept";
                         });
    return 1;
  }
  if (!store) broker_->ToPeers(*message);
  if (message->retain) {
    if (store) {
      broker_->retained().SetNow(message);
    } else {
      broker_->retained().Applied(message);  // not in the log: its arrival is its order
    }
  }
  size_t matched = Route(message);
  // Subscribers on other nodes are not known here: in a cluster, "at least one" (as for
  // stored publishes), so MQTT 5 never gets 0x10 for a message another node delivers.
  if (!store) return broker_->clustered() ? std::max<size_t>(matched, 1) : matched;
  Durable& durable = *broker_->durable();
  const uint32_t partition = durable.PartitionFor(message->topic);
  Shard* owner = &broker_->shard(OwnerOf(partition));
  durable.log().Append(
      PartitionId(partition), Durable::ToRecord(*message), 0,
      [owner, partition, message](absl::StatusOr<Offset> r) {
        if (!r.ok()) {
          SLOG(kWarn).Kv("topic", message->topic).Kv("error", r.status().message())
              << "retained message not stored; it is lost at the next restart";
          return;
        }
        // A copy with its place in the log: the routed message is shared and immutable.
        auto applied = std::make_shared<Message>(*message);
        applied->partition = partition;
        applied->offset = static_cast<int64_t>(r->value());
        owner->EnqueueStored({std::move(applied), absl::OkStatus(), nullptr, nullptr, 0, true});
      });
  return matched;
}

void Shard::InitWatermarks(const std::vector<int64_t>& high_watermarks) {
  routed_ = high_watermarks;
  watermark_ = high_watermarks;
}

SessionRecord Shard::MakeSessionRecord(const SessionHost& host, bool disconnected) const {
  SessionRecord r;
  r.version = host.version;
  r.expiry_s = host.expiry_s;
  r.disconnected_wall_ms = disconnected ? WallNowMs() : 0;
  for (const auto& [filter, options] : const_cast<Session&>(host.session).subscriptions())
    r.subscriptions.emplace_back(filter, options);
  if (host.durable) r.base = host.durable->base;
  for (const auto& e : host.session.inflight_entries()) {
    // What is not in the log cannot come back after a restart, except a PUBREL to re-send.
    if (e.offset < 0 && !e.awaiting_pubcomp) continue;
    SessionRecord::Inflight i;
    i.packet_id = e.packet_id;
    i.awaiting_pubcomp = e.awaiting_pubcomp;
    i.qos = e.delivery.qos;
    i.retain = e.delivery.retain;
    i.partition = e.partition;
    i.offset = e.awaiting_pubcomp ? -1 : e.offset;
    r.inflight.push_back(i);
  }
  return r;
}

void Shard::SaveSession(SessionHost* host, std::function<void(absl::Status)> done) {
  Durable* durable = broker_->durable();
  std::string value = EncodeSessionRecord(MakeSessionRecord(*host, host->connection == nullptr));
  Shard* self = this;
  durable->log().PutState(
      durable->SessionKey(host->session.client_id()), std::move(value),
      [self, done = std::move(done), id = host->session.client_id()](absl::Status st) mutable {
        if (!done) {
          // A background save (disconnect, persistence change): nobody waits for it, but a
          // failure is never silent. The next save of the session carries the same state.
          if (!st.ok() && st.code() != absl::StatusCode::kCancelled) {
            BrokerStats::Inc(self->stats().session_save_failures);
            SLOG(kWarn).Kv("client_id", id).Kv("error", st.message())
                << "saving a session failed (background)";
          }
          return;
        }
        asio::post(self->io(), [done = std::move(done), st] { done(st); });
      });
}

void Shard::OnSessionSaveFailed(SessionHost* host, const char* what, const absl::Status& status) {
  BrokerStats::Inc(stats_.session_save_failures);
  SLOG(kWarn).Kv("client_id", host->session.client_id()).Kv("for", what)
          .Kv("error", status.message())
      << "saving a session failed: refused";
}

void Shard::RemoveFromTries(const std::string& client_id,
                            std::vector<std::pair<std::string, std::string>> filters) {
  if (filters.empty()) return;
  auto removes = std::make_shared<std::vector<std::pair<std::string, std::string>>>(std::move(filters));
  broker_->Broadcast(
      index_,
      [removes, client_id](Shard& shard) {
        for (const auto& [filter, group] : *removes) shard.trie().Remove(filter, group, client_id);
      },
      [] {});
}

void Shard::Resubscribe(SessionHost* host,
                        const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs) {
  auto adds = std::make_shared<std::vector<std::tuple<std::string, std::string, topic::SubscriptionOptions>>>();
  for (const auto& [full, options] : subs) {
    host->session.subscriptions()[full] = options;
    topic::ParsedFilter parsed;
    if (topic::ParseFilter(full, &parsed))
      adds->emplace_back(std::string(parsed.filter), std::string(parsed.group), options);
  }
  const std::string id = host->session.client_id();
  const uint32_t home = index_;
  broker_->Broadcast(
      index_,
      [adds, id, home](Shard& shard) {
        for (const auto& [filter, group, options] : *adds)
          shard.trie().Add(filter, group, id, home, options);
      },
      [] {});
}

std::vector<std::pair<uint32_t, int64_t>> Shard::CursorsOf(const SessionHost& host) const {
  // The cursor of partition p is the first offset the session still needs (Session::
  // FirstNeeded): its lowest offset in the window or the read-ahead, else where it reads on
  // when behind, else this shard's watermark (every record below was routed here).
  const DurableProgress& d = *host.durable;
  std::vector<std::pair<uint32_t, int64_t>> out;
  for (uint32_t p = 0; p < d.base.size(); ++p) {
    const int64_t w = std::max(p < watermark_.size() ? watermark_[p] : 0, d.base[p]);
    const int64_t c = host.session.FirstNeeded(p, w);
    if (c > d.committed[p]) out.emplace_back(p, c);
  }
  return out;
}

void Shard::LoadInflight(SessionHost* host) {
  const auto missing = host->session.MissingInflight();
  if (missing.empty() || !broker_->durable()) return;
  RecordSource& source = *record_source_;
  static const std::vector<std::string> kAll = {"#"};  // stored topics never start with $
  // Plain copies, not structured bindings: clang (the fuzz build) refuses to capture bindings.
  for (const auto& entry : missing) {
    const uint32_t partition = entry.first;
    const int64_t offset = entry.second;
    source.Fetch(partition, offset, 1, UINT64_MAX, kAll, NowMs(),
                 [host, partition, offset](absl::StatusOr<FetchedRecords> r) {
                   if (!r.ok() || r->messages.empty() || r->messages[0]->offset != offset) return;
                   host->session.LoadInflight(partition, offset, std::move(r->messages[0]));
                 });
  }
}

void Shard::CommitCursors(SessionHost* host) {
  if (!host->durable) return;
  host->durable->dirty = false;
  std::string name = broker_->durable()->CursorName(host->session.client_id());
  for (const auto& [p, offset] : CursorsOf(*host)) {
    host->durable->committed[p] = offset;
    // A lost commit only means more is delivered again after a crash: counted, not fatal.
    broker_->durable()->log().CommitCursor(PartitionId(p), name,
                                           Offset(static_cast<uint64_t>(offset)), 0,
                                           broker_->durable()->Background("commit a cursor",
                                                                          host->session.client_id()));
  }
}

void Shard::UpdatePersistence(SessionHost* host, bool session_present) {
  if (host->expiry_s == 0) {
    if (host->durable) ForgetDurableSession(host);
    return;
  }
  if (!host->durable || !session_present) {
    DurableProgress d;
    d.base = broker_->durable()->HighWatermarks();
    d.committed.assign(d.base.size(), -1);
    d.dirty = false;
    host->durable = std::move(d);
  }
  MarkDirty(host);
  SaveSession(host, nullptr);
}

void Shard::ForgetDurableSession(SessionHost* host) {
  Durable* durable = broker_->durable();
  const std::string& id = host->session.client_id();
  if (host->durable) {
    durable->log().DeleteState(durable->SessionKey(id), durable->Background("delete a session", id));
    // A cursor cannot be deleted asynchronously: one that expires at once stops holding
    // retention back, and the next retention pass removes it.
    std::vector<int64_t> hwm = durable->HighWatermarks();
    for (uint32_t p = 0; p < hwm.size(); ++p) {
      if (host->durable->committed[p] < 0) continue;
      durable->log().CommitCursor(PartitionId(p), durable->CursorName(id),
                                  Offset(static_cast<uint64_t>(hwm[p])), 1,
                                  durable->Background("expire a session's cursor", id));
    }
    host->durable.reset();
  }
  if (host->incoming_stored) {
    // Entries still being stored are released by OnQos2Stored, which will not find them.
    for (const auto& [packet_id, e] : *host->incoming_stored)
      if (e.stored)
        durable->log().ReleaseQos2(PartitionId(e.partition), id, packet_id,
                                   durable->Background("release a QoS 2 entry", id));
    host->incoming_stored.reset();
  }
}

IncomingQos2& Shard::BeginStoredQos2(SessionHost* host, uint16_t packet_id, uint32_t partition) {
  if (!host->incoming_stored) host->incoming_stored = absl::flat_hash_map<uint16_t, IncomingQos2>();
  IncomingQos2& e = (*host->incoming_stored)[packet_id];
  e = IncomingQos2{partition, false, {}};
  return e;
}

IncomingQos2* Shard::FindStoredQos2(SessionHost* host, uint16_t packet_id) {
  if (!host->incoming_stored) return nullptr;
  auto it = host->incoming_stored->find(packet_id);
  return it == host->incoming_stored->end() ? nullptr : &it->second;
}

void Shard::OnQos2Stored(const std::string& client_id, uint16_t packet_id, uint32_t partition,
                         const absl::Status& status) {
  SessionHost* host = Find(client_id);
  IncomingQos2* e = host ? FindStoredQos2(host, packet_id) : nullptr;
  if (!e || e->stored || e->partition != partition) {
    // The session ended, started clean or released the id while the append was under way:
    // nobody will send PUBREL for this entry.
    if (status.ok())
      broker_->durable()->log().ReleaseQos2(
          PartitionId(partition), client_id, packet_id,
          broker_->durable()->Background("release an unwanted QoS 2 entry", client_id));
    return;
  }
  auto waiters = std::move(e->waiters);
  if (status.ok()) {
    e->stored = true;
  } else {
    host->session.EndIncomingQos2(packet_id);
    host->incoming_stored->erase(packet_id);
  }
  for (auto& w : waiters) w(status.ok());
}

std::optional<uint32_t> Shard::TakeIncomingPartition(SessionHost* host, uint16_t packet_id) {
  IncomingQos2* e = FindStoredQos2(host, packet_id);
  if (!e) return std::nullopt;
  std::optional<uint32_t> partition;
  if (e->stored) partition = e->partition;
  host->incoming_stored->erase(packet_id);
  return partition;
}

void Shard::StartCursorTimer() {
  if (shutting_down_) return;
  cursor_timer_ = std::make_unique<asio::steady_timer>(io_);
  cursor_timer_->expires_after(
      std::chrono::milliseconds(broker_->config().cursor_commit_interval_ms));
  cursor_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) OnCursorTick();
  });
}

void Shard::OnCursorTick() {
  // Owned partitions' routed watermarks go to every shard, behind the deliveries already
  // posted there, so a shard that reads watermark w has seen every message below w.
  std::vector<std::pair<uint32_t, int64_t>> owned;
  for (uint32_t p = 0; p < routed_.size(); ++p)
    if (OwnerOf(p) == index_) owned.emplace_back(p, routed_[p]);
  for (uint32_t i = 0; i < broker_->shard_count(); ++i) {
    Shard* s = &broker_->shard(i);
    if (s == this) continue;
    asio::post(s->io(), [s, owned] {
      for (const auto& [p, w] : owned) s->watermark_[p] = std::max(s->watermark_[p], w);
    });
  }
  // Active sessions every round; every session now and then, so idle ones follow the
  // watermark and do not hold retention back.
  if (++cursor_ticks_ % 30 == 0) {
    for (auto& [id, host] : sessions_) CommitCursors(host.get());
  } else {
    for (const std::string& id : dirty_sessions_)
      if (SessionHost* host = Find(id)) CommitCursors(host);
  }
  dirty_sessions_.clear();
  StartCursorTimer();
}

}  // namespace sluice::broker
