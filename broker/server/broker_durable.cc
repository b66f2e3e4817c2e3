// Broker: recovery from the commit log at start, and the last save at a clean stop
// (durable.h). Both run while no shard thread does, so they touch every shard directly.
#include <atomic>
#include <condition_variable>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "broker/server/broker.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace {

// Waits for many asynchronous log operations at once, so one group commit carries them.
class Latch {
 public:
  std::function<void(absl::Status)> Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++pending_;
    return [this](absl::Status st) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!st.ok() && first_error_.ok()) first_error_ = st;
      if (--pending_ == 0) cv_.notify_all();
    };
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return pending_ == 0; });
    return first_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  absl::Status first_error_;
};

struct RestoredSession {
  SessionHost* host = nullptr;
  std::vector<int64_t> cursor;  // per partition: first offset to deliver
  absl::flat_hash_set<std::pair<uint32_t, int64_t>> taken;  // restored as inflight
};

// Reads partition p once, from the lowest cursor of any restored session to the high
// watermark, and queues each record for the sessions whose subscriptions match it (matched
// like Shard::Route) and whose cursor is at or below it.
absl::Status RebuildQueues(Broker& broker, absl::flat_hash_map<std::string, RestoredSession>& restored,
                           PartitionId p, int64_t hwm, int64_t now, int64_t wall_now,
                           Broker::RecoveryCounts* counts) {
  int64_t from = hwm;
  for (const auto& [id, rs] : restored) from = std::min(from, rs.cursor[p.value()]);
  if (from >= hwm) return absl::OkStatus();
  storage::PartitionedLog& log = broker.durable()->log();
  ASSIGN_OR_RETURN(storage::PartitionInfo info, log.Info(p));
  if (from < static_cast<int64_t>(info.log_start.value())) {
    counts->records_lost += info.log_start.value() - from;  // hard retention limits
    from = static_cast<int64_t>(info.log_start.value());
  }
  const size_t max_queued = static_cast<size_t>(broker.config().max_queued_messages);
  topic::SubscriptionTrie& trie = broker.shard(0).trie();
  struct Match {
    uint8_t qos = 0;
    bool retain_as_published = false;
    std::vector<uint32_t> subscription_ids;
  };
  absl::flat_hash_map<std::string, Match> matches;
  auto eligible = [&](const std::string& client_id, int64_t offset) -> RestoredSession* {
    auto it = restored.find(client_id);
    if (it == restored.end() || it->second.cursor[p.value()] > offset ||
        it->second.taken.contains({p.value(), offset}))
      return nullptr;
    return &it->second;
  };
  while (from < hwm) {
    ASSIGN_OR_RETURN(auto batch, log.Read(p, Offset(static_cast<uint64_t>(from)), 1024, 4 << 20));
    if (batch.empty()) break;
    for (const storage::StoredRecord& r : batch) {
      const int64_t offset = static_cast<int64_t>(r.offset.value());
      from = offset + 1;
      if (r.record.qos == 0) continue;  // QoS 0 is never queued for an offline session
      matches.clear();
      std::vector<std::pair<std::string, Match>> shared;
      trie.Match(
          r.record.topic,
          [&](const topic::SubscriberEntry& e) {
            if (e.options.no_local && e.client_id == r.record.publisher) return;
            if (!eligible(e.client_id, offset)) return;
            Match& m = matches[e.client_id];
            m.qos = std::max(m.qos, e.options.qos);
            m.retain_as_published |= e.options.retain_as_published;
            if (e.options.subscription_id) m.subscription_ids.push_back(e.options.subscription_id);
          },
          [&](std::vector<topic::SubscriberEntry>& members, size_t& cursor) {
            for (size_t i = 0; i < members.size(); ++i) {
              const topic::SubscriberEntry& e = members[(cursor + i) % members.size()];
              if (!eligible(e.client_id, offset)) continue;
              cursor = cursor + i + 1;
              Match m{e.options.qos, e.options.retain_as_published, {}};
              if (e.options.subscription_id) m.subscription_ids.push_back(e.options.subscription_id);
              shared.emplace_back(e.client_id, std::move(m));
              return;
            }
          });
      for (auto& [id, m] : shared) {
        Match& into = matches[id];
        into.qos = std::max(into.qos, m.qos);
        into.retain_as_published |= m.retain_as_published;
        for (uint32_t sid : m.subscription_ids) into.subscription_ids.push_back(sid);
      }
      if (matches.empty()) continue;
      ASSIGN_OR_RETURN(std::shared_ptr<Message> message,
                       Durable::ToMessage(r.record, p.value(), offset, now, wall_now));
      for (auto& [id, m] : matches) {
        RestoredSession& rs = restored[id];
        if (rs.host->session.queued() >= max_queued) {
          // Counted like a live drop (Shard::Deliver); logged per session after recovery.
          counts->dropped_queue_full++;
          rs.host->session.CountDroppedQueueFull();
          BrokerStats::Inc(broker.shard(broker.HomeShard(id)).stats().messages_dropped_queue_full);
          continue;
        }
        Delivery d;
        d.message = message;
        d.qos = std::min(message->qos, m.qos);
        d.retain = m.retain_as_published && message->retain;
        std::sort(m.subscription_ids.begin(), m.subscription_ids.end());
        d.subscription_ids = std::move(m.subscription_ids);
        if (d.qos == 0) continue;
        rs.host->session.RestoreQueued(std::move(d));
        counts->messages++;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Broker::RecoverDurable(RecoveryCounts* counts) {
  Durable& durable = *durable_;
  storage::PartitionedLog& log = durable.log();
  const uint32_t partitions = durable.partitions();
  const int64_t wall_now = WallNowMs();
  const int64_t now = shards_[0]->NowMs();
  const std::vector<int64_t> hwm = durable.HighWatermarks();
  for (auto& shard : shards_) shard->InitWatermarks(hwm);

  for (const storage::StoredRecord& r : log.ListRetained()) {
    ASSIGN_OR_RETURN(auto m, Durable::ToMessage(r.record, durable.PartitionFor(r.record.topic),
                                                static_cast<int64_t>(r.offset.value()), now,
                                                wall_now));
    SetRetained(m);
    counts->retained++;
  }

  // Sessions and their subscriptions.
  absl::flat_hash_map<std::string, RestoredSession> restored;
  ASSIGN_OR_RETURN(auto records, log.ScanState(Durable::kSessionPrefix));
  absl::flat_hash_map<std::string, SessionRecord> decoded;
  for (auto& [key, value] : records) {
    std::string client_id = key.substr(std::string_view(Durable::kSessionPrefix).size());
    absl::StatusOr<SessionRecord> r = DecodeSessionRecord(value);
    if (!r.ok() || r->base.size() != partitions)
      return absl::DataLossError("commit log: damaged record of session '" + client_id + "'");
    uint32_t expiry = r->expiry_s;
    if (expiry != kSessionNeverExpires && r->disconnected_wall_ms > 0) {
      int64_t gone_s = std::max<int64_t>(0, (wall_now - r->disconnected_wall_ms) / 1000);
      if (gone_s >= expiry) {  // expired while the broker was down
        log.DeleteState(key, [](absl::Status) {});
        counts->sessions_expired++;
        continue;
      }
      expiry -= static_cast<uint32_t>(gone_s);
    }
    const uint32_t home = HomeShard(client_id);
    SessionHost* host = shards_[home]->RestoreSession(client_id, r->version, expiry);
    for (const auto& [filter, options] : r->subscriptions) {
      topic::ParsedFilter parsed;
      if (!topic::ParseFilter(filter, &parsed)) continue;
      host->session.subscriptions()[filter] = options;
      for (auto& shard : shards_)
        shard->trie().Add(parsed.filter, parsed.group, client_id, home, options);
    }
    DurableProgress progress;
    progress.base = r->base;
    progress.committed.assign(partitions, -1);
    progress.dirty = false;
    host->durable = std::move(progress);
    restored[client_id] = RestoredSession{host, r->base, {}};
    decoded.emplace(client_id, std::move(*r));
    counts->sessions++;
  }

  // Cursors: where each session stands. Those of sessions that are gone expire at once (the
  // next retention pass removes them).
  for (uint32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(auto cursors, log.ListCursors(PartitionId(p)));
    for (const storage::CursorInfo& c : cursors) {
      std::string_view name = c.name;
      if (name.substr(0, 8) != "session:") continue;
      auto it = restored.find(Av(name.substr(8)));
      if (it == restored.end()) {
        if (c.expiry_ms != 1) log.CommitCursor(PartitionId(p), c.name, c.offset, 1, [](absl::Status) {});
        continue;
      }
      int64_t offset = static_cast<int64_t>(c.offset.value());
      it->second.cursor[p] = std::max(it->second.cursor[p], offset);
      it->second.host->durable->committed[p] = offset;
    }
  }

  // Incoming QoS 2 messages stored but not yet released by PUBREL.
  for (const storage::PendingQos2& q : log.ListPendingQos2()) {
    SessionHost* host = shards_[HomeShard(q.publisher)]->Find(q.publisher);
    if (!host) {  // a session that ended (clean, or expired): its packet ids are free again
      log.ReleaseQos2(q.partition, q.publisher, q.packet_id, [](absl::Status) {});
      continue;
    }
    host->session.BeginIncomingQos2(q.packet_id);
    shards_[HomeShard(q.publisher)]->BeginStoredQos2(host, q.packet_id, q.partition.value()).stored = true;
  }

  // Outgoing messages in flight when the session record was last written, with their packet
  // ids (re-sent with DUP=1 on resume), unless the cursor shows they were acknowledged since.
  for (auto& [client_id, rs] : restored) {
    for (const SessionRecord::Inflight& e : decoded[client_id].inflight) {
      Delivery d;
      if (e.offset >= 0) {
        if (e.partition >= partitions || e.offset < rs.cursor[e.partition]) continue;
        auto read = log.Read(PartitionId(e.partition), Offset(static_cast<uint64_t>(e.offset)), 1);
        if (!read.ok() || read->empty()) continue;  // deleted by a hard retention limit
        ASSIGN_OR_RETURN(auto m, Durable::ToMessage(read->front().record, e.partition, e.offset,
                                                    now, wall_now));
        d.message = std::move(m);
        d.qos = e.qos;
        d.retain = e.retain;
        rs.taken.insert({e.partition, e.offset});
      } else if (!e.awaiting_pubcomp) {
        continue;
      }
      if (rs.host->session.RestoreInflight(e.packet_id, e.awaiting_pubcomp, std::move(d)))
        counts->messages++;
    }
  }
  for (uint32_t p = 0; p < partitions; ++p)
    RETURN_IF_ERROR(RebuildQueues(*this, restored, PartitionId(p), hwm[p], now, wall_now, counts));
  for (const auto& [id, rs] : restored) {
    const uint64_t dropped = rs.host->session.counters().dropped_queue_full;
    if (dropped == 0) continue;
    SLOG(kWarn).Kv("client_id", id).Kv("queued", rs.host->session.queued())
            .Kv("dropped_total", dropped)
        << "session queue full while rebuilt from the log, messages dropped (max_queued_messages)";
  }
  return absl::OkStatus();
}

}  // namespace sluice::broker

namespace sluice::broker {

void Broker::SaveDurableOnStop() {
  if (!durable_) return;
  // Every client was disconnected by Shutdown; the last record of each persistent session
  // (with its packet ids in flight) and its cursors go out together in a few group commits.
  Latch latch;
  size_t sessions = 0;
  for (auto& shard : shards_) {
    for (const SessionHost* const_host : shard->Sessions()) {
      auto* host = const_cast<SessionHost*>(const_host);
      if (!host->durable) continue;
      ++sessions;
      durable_->log().PutState(Durable::SessionKey(host->session.client_id()),
                               EncodeSessionRecord(shard->MakeSessionRecord(*host, true)),
                               latch.Add());
      for (const auto& [p, offset] : shard->CursorsOf(*host)) {
        durable_->log().CommitCursor(PartitionId(p), Durable::CursorName(host->session.client_id()),
                                     Offset(static_cast<uint64_t>(offset)), 0, latch.Add());
      }
    }
  }
  if (absl::Status st = latch.Wait(); !st.ok()) {
    SLOG(kError).Kv("error", st.message()) << "saving sessions to the commit log failed";
  } else {
    SLOG(kInfo).Kv("sessions", sessions) << "sessions saved";
  }
}

}  // namespace sluice::broker
