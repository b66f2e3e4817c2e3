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
  std::vector<int64_t> cursor;  // per partition: the first offset the session still needs
};

}  // namespace

absl::Status Broker::RecoverDurable(RecoveryCounts* counts) {
  Durable& durable = *durable_;
  storage::PartitionedLog& log = durable.log();
  const uint32_t partitions = durable.partitions();
  const int64_t wall_now = WallNowMs();
  const int64_t now = shards_[0]->NowMs();
  const std::vector<int64_t> hwm = durable.HighWatermarks();
  for (auto& shard : shards_) shard->InitWatermarks(hwm);

  ASSIGN_OR_RETURN(std::vector<storage::StoredRecord> retained, log.ListRetained());
  for (const storage::StoredRecord& r : retained) {
    ASSIGN_OR_RETURN(auto m, Durable::ToMessage(r.record, durable.PartitionFor(r.record.topic),
                                                static_cast<int64_t>(r.offset.value()), now,
                                                wall_now));
    retained_.Applied(m);
    counts->retained++;
  }

  // Sessions and their subscriptions.
  absl::flat_hash_map<std::string, RestoredSession> restored;
  ASSIGN_OR_RETURN(auto records, log.ScanState(durable_->SessionPrefix()));
  absl::flat_hash_map<std::string, SessionRecord> decoded;
  for (auto& [key, value] : records) {
    std::string client_id = key.substr(durable_->SessionPrefix().size());
    absl::StatusOr<SessionRecord> r = DecodeSessionRecord(value);
    if (!r.ok() || r->base.size() != partitions)
      return absl::DataLossError("commit log: damaged record of session '" + client_id + "'");
    uint32_t expiry = r->expiry_s;
    if (expiry != kSessionNeverExpires && r->disconnected_wall_ms > 0) {
      int64_t gone_s = std::max<int64_t>(0, (wall_now - r->disconnected_wall_ms) / 1000);
      if (gone_s >= expiry) {  // expired while the broker was down
        log.DeleteState(key, durable.Background("delete expired session", client_id));
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
    restored[client_id] = RestoredSession{host, r->base};
    decoded.emplace(client_id, std::move(*r));
    counts->sessions++;
  }

  // Cursors: where each session stands. Those of sessions that are gone expire at once (the
  // next retention pass removes them).
  // In a cluster only this node's ("n<id>/session:..."); other nodes' are theirs to expire.
  const std::string cursor_prefix = durable_->CursorName("");
  for (uint32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(auto cursors, log.ListCursors(PartitionId(p)));
    for (const storage::CursorInfo& c : cursors) {
      std::string_view name = c.name;
      if (name.substr(0, cursor_prefix.size()) != cursor_prefix) continue;
      name.remove_prefix(cursor_prefix.size() - 8);  // leaves "session:<client id>"
      auto it = restored.find(Av(name.substr(8)));
      if (it == restored.end()) {
        if (c.expiry_ms != 1) {
          log.CommitCursor(PartitionId(p), c.name, c.offset, 1,
                           durable.Background("expire the cursor of an ended session",
                                              std::string(name.substr(8))));
        }
        continue;
      }
      int64_t offset = static_cast<int64_t>(c.offset.value());
      it->second.cursor[p] = std::max(it->second.cursor[p], offset);
      it->second.host->durable->committed[p] = offset;
    }
  }

  // Incoming QoS 2 messages stored but not yet released by PUBREL.
  ASSIGN_OR_RETURN(std::vector<storage::PendingQos2> pending_qos2, log.ListPendingQos2());
  for (const storage::PendingQos2& q : pending_qos2) {
    SessionHost* host = shards_[HomeShard(q.publisher)]->Find(q.publisher);
    if (!host) {  // a session that ended (clean, or expired): its packet ids are free again
      // In a cluster the publisher may be another node's client, whose entry that node
      // holds on to: only a standalone broker knows every session.
      if (durable_->clustered()) continue;
      log.ReleaseQos2(q.partition, q.publisher, q.packet_id,
                      durable.Background("release the QoS 2 entry of an ended session", q.publisher));
      continue;
    }
    host->session.BeginIncomingQos2(q.packet_id);
    shards_[HomeShard(q.publisher)]->BeginStoredQos2(host, q.packet_id, q.partition.value()).stored = true;
  }

  // Where each session reads on, and its window as the session record last saw it: packet
  // ids and offsets only (their messages are read back when the client returns), unless the
  // cursor shows they were acknowledged since. No backlog is read here: start-up does not
  // grow with what the sessions have not read yet (README "Sessions").
  for (auto& [client_id, rs] : restored) {
    rs.host->session.RestorePositions(rs.cursor);
    for (const SessionRecord::Inflight& e : decoded[client_id].inflight) {
      if (e.offset >= 0 && (e.partition >= partitions || e.offset < rs.cursor[e.partition]))
        continue;
      if (e.offset < 0 && !e.awaiting_pubcomp) continue;
      Delivery d;
      d.qos = e.qos;
      d.retain = e.retain;
      if (rs.host->session.RestoreInflight(e.packet_id, e.awaiting_pubcomp, std::move(d),
                                           e.partition, e.offset))
        counts->messages++;
    }
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
      durable_->log().PutState(durable_->SessionKey(host->session.client_id()),
                               EncodeSessionRecord(shard->MakeSessionRecord(*host, true)),
                               latch.Add());
      for (const auto& [p, offset] : shard->CursorsOf(*host)) {
        durable_->log().CommitCursor(PartitionId(p), durable_->CursorName(host->session.client_id()),
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
