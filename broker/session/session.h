// Session: the MQTT session state of one client id, as a pure state machine (no sockets,
// timers or threads). It owns the outgoing QoS 1/2 window (packet ids, states), the queue of
// messages waiting for the window or for the client to come back, and the incoming QoS 2
// packet ids awaiting PUBREL. The caller feeds it events with the current time and sends the
// Outbound packets it returns, in order.
//
// Limits: the window is the client's Receive Maximum (or the configured default), the queue
// holds at most `max_queued` messages; what is refused is reported to the caller (who counts
// and logs it), never dropped silently. Thread-compatible: owned by one shard.
#ifndef SLUICE_BROKER_SESSION_SESSION_H_
#define SLUICE_BROKER_SESSION_SESSION_H_

#include <cstdint>
#include <deque>
#include <map>
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

enum class OfferResult { kSent, kQueued, kDroppedQueueFull, kDroppedOffline, kDroppedExpired };

struct SessionCounters {
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_expired = 0;
};

class Session {
 public:
  Session(std::string client_id, uint32_t max_queued);

  const std::string& client_id() const { return client_id_; }

  // A connection takes the session. `window` is how many QoS 1/2 publishes may be unacked.
  void Attach(uint16_t window);
  void Detach();
  bool online() const { return online_; }

  // Offers a delivery. Online: QoS 0 is sent at once, QoS 1/2 if the window has room, else
  // queued. Offline: QoS 1/2 queued, QoS 0 dropped (kDroppedOffline). A full queue refuses.
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
  // PUBREL in their original order, then fills the window from the queue.
  void Resume(int64_t now_ms, std::vector<Outbound>* out);

  // Incoming QoS 2: Begin returns false if the id is already awaiting PUBREL (a duplicate
  // that must not be delivered again); End (on PUBREL) returns false for an unknown id.
  bool BeginIncomingQos2(uint16_t packet_id);
  bool EndIncomingQos2(uint16_t packet_id);
  size_t incoming_qos2() const { return incoming_qos2_ ? incoming_qos2_->size() : 0; }

  // Subscriptions of this session: full filter text (with any $share prefix) -> options.
  std::map<std::string, topic::SubscriptionOptions>& subscriptions() { return subscriptions_; }

  size_t inflight() const { return inflight_.size(); }
  size_t queued() const { return queue_.size(); }
  const SessionCounters& counters() const { return counters_; }

  struct InflightEntry {
    uint16_t packet_id;
    bool awaiting_pubcomp;  // PUBREC received, PUBREL sent
    Delivery delivery;
  };
  const LazyDeque<InflightEntry>& inflight_entries() const { return inflight_; }
  const LazyDeque<Delivery>& queued_entries() const { return queue_; }
  const absl::flat_hash_set<uint16_t>& incoming_qos2_ids() const;

  // Rebuilding a saved session (offline, before any Attach). RestoreInflight keeps the saved
  // packet id and state; a message-less entry must be awaiting PUBCOMP. Returns false (and
  // changes nothing) for a duplicate or zero packet id.
  bool RestoreInflight(uint16_t packet_id, bool awaiting_pubcomp, Delivery delivery);
  void RestoreQueued(Delivery delivery) { queue_.push_back(std::move(delivery)); }
  // A message that did not fit the queue while it was rebuilt from the log.
  void CountDroppedQueueFull() { ++counters_.dropped_queue_full; }

 private:
  uint16_t AllocatePacketId();
  // Sends queued deliveries while the window has room.
  void Pump(int64_t now_ms, std::vector<Outbound>* out);
  // Builds the Outbound for a delivery (assigning a packet id for QoS > 0); false if expired.
  bool Emit(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out);
  LazyDeque<InflightEntry>::iterator Find(uint16_t packet_id);
  void Release(LazyDeque<InflightEntry>::iterator it, int64_t now_ms, std::vector<Outbound>* out);

  std::string client_id_;
  uint32_t max_queued_;
  bool online_ = false;
  uint16_t window_ = 0;
  uint16_t next_packet_id_ = 1;
  LazyDeque<InflightEntry> inflight_;  // send order
  // Packet ids in flight / incoming QoS 2 ids awaiting PUBREL; boxed and freed when empty,
  // as most idle sessions have none (32 bytes each).
  Boxed<absl::flat_hash_set<uint16_t>> used_ids_;
  LazyDeque<Delivery> queue_;
  Boxed<absl::flat_hash_set<uint16_t>> incoming_qos2_;
  SessionCounters counters_;
  std::map<std::string, topic::SubscriptionOptions> subscriptions_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SESSION_SESSION_H_
