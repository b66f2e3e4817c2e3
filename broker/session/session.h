// Session: the MQTT session state of one client id, as a pure state machine (no sockets,
// timers, threads or storage). It owns the outgoing QoS 1/2 window (packet ids, states), a
// bounded queue of deliveries waiting for the window, the incoming QoS 2 packet ids awaiting
// PUBREL, and — issue 13 — its place in each partition of the commit log. The caller feeds it
// events with the current time and sends the Outbound packets it returns, in order.
//
// Sessions are consumers of the log. A delivery of a message stored in the commit log
// ("log-backed": Message::offset >= 0, not a retained copy or a $share pick) is never dropped
// for lack of room: while the session keeps up it is sent at once or kept in a small
// read-ahead (SessionLimits::read_ahead_*); beyond that, or while the client is away, the
// message is left in the log and the partition is marked *behind*: the session then reads it
// back (NextFetch / OnFetched, driven by broker/server's SessionReader) from its position,
// and becomes live again once it has read up to the high watermark. In memory a session
// holds its positions, its window and the read-ahead — never a copy of its backlog.
//
// Seams. Per partition, `next` is the first offset not yet delivered, queued or found not to
// match. Live deliveries arrive in offset order per partition (the partition's owner routes
// them so), and a record is readable before it is routed, so:
//   - live while not behind: a delivery below `next` was already read from the log (skip);
//   - behind: live deliveries are ignored, the highest remembered (`last_deferred`); a read
//     that reached the high watermark of its moment makes the partition live again only if
//     nothing at or past it was deferred meanwhile (else it reads on).
// Each message therefore reaches the window exactly once per session (QoS 2) and at least
// once across a crash (QoS 1/2, from the last committed cursor).
//
// Deliveries that are not in the log (durability: memory, retained copies on SUBSCRIBE, a
// $share group's pick, broker-originated QoS 1/2) can only wait in memory: they are capped
// by SessionLimits::memory_queue_max (0: uncapped), what is refused is counted. With
// SessionLimits::log_backed false (the opt-in max_queued_messages, Mosquitto's behaviour)
// every QoS 1/2 delivery is treated so, capped by max_queued.
//
// Thread-compatible: owned by one shard. Limits are read through a pointer the owner keeps
// alive (one SessionLimits per shard, not per session: an idle session costs no copy).
#ifndef SLUICE_BROKER_SESSION_SESSION_H_
#define SLUICE_BROKER_SESSION_SESSION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "base/boxed.h"
#include "broker/session/message.h"
#include "mqtt/topic/subscription_trie.h"

namespace sluice::broker {

struct Outbound {
  enum class Kind { kPublish, kPubrel };
  Kind kind = Kind::kPublish;
  uint16_t packet_id = 0;  // 0 for QoS 0
  bool dup = false;
  Delivery delivery;       // for kPublish
  uint32_t expiry_s = 0;   // remaining message expiry to send (when has_expiry)
  bool has_expiry = false;
};

enum class OfferResult {
  kSent,
  kQueued,
  kDeferred,   // left in the commit log: the session reads it back (not a drop)
  kDuplicate,  // already read from the log (the live/log seam)
  kDroppedQueueFull,
  kDroppedOffline,
  kDroppedExpired,
};

struct SessionLimits {
  // Read-ahead of log-backed deliveries beyond the window, while online.
  uint32_t read_ahead_messages = 128;
  uint64_t read_ahead_bytes = 256 << 10;
  // Deliveries that are not in the log; 0 = uncapped.
  uint32_t memory_queue_max = 1000;
  // false: every QoS 1/2 delivery waits in memory, capped by max_queued (Mosquitto-like).
  bool log_backed = true;
  uint32_t max_queued = 0;
};

struct SessionCounters {
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_expired = 0;
  uint64_t deferred = 0;          // live deliveries left in the log
  uint64_t read_from_log = 0;     // deliveries read back from the log
  uint64_t records_lost = 0;      // records deleted by hard retention before this session read them
};

class Session {
 public:
  // `limits` is not owned and must outlive the session.
  Session(std::string client_id, const SessionLimits* limits);

  const std::string& client_id() const { return client_id_; }

  // A connection takes the session. `window` is how many QoS 1/2 publishes may be unacked.
  void Attach(uint16_t window);
  // The connection is gone. A session that lives on (persistent) gives its log-backed
  // read-ahead back to the log and releases the messages of its window (kept as partition
  // and offset; LoadInflight brings them back on resume): memory while offline does not grow
  // with the backlog. `watermarks[p]`: every record of partition p below it has been routed
  // to this session's shard (see LogPositions::Detach). A session about to be destroyed may
  // pass nothing.
  void Detach(const std::vector<int64_t>* watermarks = nullptr);
  bool online() const { return online_; }

  // Offers a delivery (see the header comment for what happens to each kind). QoS 0: sent
  // at once when online, else dropped (kDroppedOffline).
  OfferResult Offer(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out);

  // Acknowledgements from the client. Each returns false for an unknown packet id (or one in
  // the wrong state) and then changes nothing. Freed window slots pull from the queue.
  bool OnPuback(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out);
  bool OnPubrec(uint16_t packet_id, uint8_t reason_code, int64_t now_ms,
                std::vector<Outbound>* out);
  bool OnPubcomp(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out);
  // The connection could not send a publish (e.g. larger than the client's maximum packet
  // size): treat it as delivered, per MQTT 5 section 3.1.2.11.4.
  void Discard(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out);

  // After Attach on a resumed session: re-sends every unacknowledged PUBLISH (DUP=1) and
  // PUBREL in their original order, then fills the window from the queue. Entries whose
  // message is not loaded (MissingInflight) are dropped from the window first (counted in
  // records_lost): load them before.
  void Resume(int64_t now_ms, std::vector<Outbound>* out);
  // Window entries waiting for their message (after a restart or a detach): partition and
  // offset of each, in window order. LoadInflight gives one back (false if none waits there).
  std::vector<std::pair<uint32_t, int64_t>> MissingInflight() const;
  bool LoadInflight(uint32_t partition, int64_t offset, MessagePtr message);

  // ==== Reading the log (the session as a consumer) ==========================================
  struct Fetch {
    uint32_t partition = 0;
    int64_t from = 0;
    uint32_t max_records = 0;
    uint64_t max_bytes = 0;
  };
  // The next read the session wants: online, some partition behind, room in the window or the
  // read-ahead. Partitions take turns. nullopt when there is nothing to read now.
  std::optional<Fetch> NextFetch() const;
  // False when an answer to `fetch` came too late: the session moved (it went away and came
  // back, or read the range otherwise) and must not apply it.
  bool StillWants(const Fetch& fetch) const;
  // The result of a read of `partition` that began at Fetch::from: `matched` are the
  // deliveries built from its records that match this session (offsets ascending, built by the
  // caller from the session's subscriptions), `scanned_to` one past the last record looked at,
  // `high_watermark` the partition's high watermark when it was read. Sends what the window
  // takes, queues the rest (at most what NextFetch asked for).
  void OnFetched(uint32_t partition, std::vector<Delivery> matched, int64_t scanned_to,
                 int64_t high_watermark, int64_t now_ms, std::vector<Outbound>* out);
  // Hard retention deleted what the session still needed: it goes on from `log_start`.
  void OnRecordsLost(uint32_t partition, int64_t log_start);
  // Restoring a persistent session (after a restart): its cursors; every partition is behind
  // from there until the session has read up to the high watermark.
  void RestorePositions(const std::vector<int64_t>& cursors);
  // The first offset of `partition` this session still needs (its cursor to commit): the
  // lowest offset in its window or read-ahead, else its position — or `watermark` (every
  // record below it routed to this shard) when the partition is live.
  int64_t FirstNeeded(uint32_t partition, int64_t watermark) const;
  // True when some partition is behind.
  bool behind() const;
  bool behind(uint32_t partition) const;

  // Incoming QoS 2: Begin returns false if the id is already awaiting PUBREL (a duplicate
  // that must not be delivered again); End (on PUBREL) returns false for an unknown id.
  bool BeginIncomingQos2(uint16_t packet_id);
  bool EndIncomingQos2(uint16_t packet_id);
  size_t incoming_qos2() const { return incoming_qos2_ ? incoming_qos2_->size() : 0; }

  // Subscriptions of this session: full filter text (with any $share prefix) -> options.
  std::map<std::string, topic::SubscriptionOptions>& subscriptions() { return subscriptions_; }
  const std::map<std::string, topic::SubscriptionOptions>& subscriptions() const {
    return subscriptions_;
  }

  size_t inflight() const { return inflight_.size(); }
  size_t queued() const { return queue_.size(); }
  const SessionCounters& counters() const { return counters_; }

  struct InflightEntry {
    uint16_t packet_id;
    bool awaiting_pubcomp;  // PUBREC received, PUBREL sent
    Delivery delivery;      // the message is null while unloaded (MissingInflight)
    uint32_t partition = 0;
    int64_t offset = -1;    // in the log; -1: not log-backed
  };
  const LazyDeque<InflightEntry>& inflight_entries() const { return inflight_; }
  const LazyDeque<Delivery>& queued_entries() const { return queue_; }
  const absl::flat_hash_set<uint16_t>& incoming_qos2_ids() const;

  // Rebuilding a saved session (offline, before any Attach): a window entry with its packet id
  // and state; a log-backed one (offset >= 0) may come without its message (LoadInflight).
  // Returns false (and changes nothing) for a duplicate or zero packet id, or an entry that is
  // neither awaiting PUBCOMP nor in the log nor given its message.
  bool RestoreInflight(uint16_t packet_id, bool awaiting_pubcomp, Delivery delivery,
                       uint32_t partition, int64_t offset);

 private:
  struct Position {
    int64_t next = 0;
    int64_t last_deferred = -1;
    bool behind = false;
  };
  uint16_t AllocatePacketId();
  // Sends queued deliveries while the window has room.
  void Pump(int64_t now_ms, std::vector<Outbound>* out);
  // Builds the Outbound for a delivery (assigning a packet id for QoS > 0); false if expired.
  bool Emit(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out);
  bool WindowHasRoom() const { return inflight_.size() < window_; }
  void Enqueue(Delivery d);
  void Dequeued(const Delivery& d);
  // The record is in the log and this session's to read back (not a retained copy or a
  // $share pick).
  static bool InLog(const Delivery& d);
  // ...and waits there rather than in memory (see the header comment).
  bool LogBacked(const Delivery& d) const;
  Position& PositionOf(uint32_t partition);
  OfferResult OfferFromLog(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out);
  LazyDeque<InflightEntry>::iterator Find(uint16_t packet_id);
  void Release(LazyDeque<InflightEntry>::iterator it, int64_t now_ms, std::vector<Outbound>* out);

  std::string client_id_;
  const SessionLimits* limits_;
  bool online_ = false;
  uint16_t window_ = 0;
  uint16_t next_packet_id_ = 1;
  LazyDeque<InflightEntry> inflight_;  // send order
  // Packet ids in flight / incoming QoS 2 ids awaiting PUBREL; boxed and freed when empty,
  // as most idle sessions have none (32 bytes each).
  Boxed<absl::flat_hash_set<uint16_t>> used_ids_;
  LazyDeque<Delivery> queue_;
  uint32_t queued_log_ = 0;        // log-backed deliveries in queue_ (the read-ahead)
  uint64_t queued_log_bytes_ = 0;
  uint32_t queued_memory_ = 0;     // the others
  // Per partition, allocated when first needed (a session that never falls behind has none).
  Boxed<std::vector<Position>> positions_;
  mutable uint32_t fetch_turn_ = 0;
  Boxed<absl::flat_hash_set<uint16_t>> incoming_qos2_;
  SessionCounters counters_;
  std::map<std::string, topic::SubscriptionOptions> subscriptions_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SESSION_SESSION_H_
