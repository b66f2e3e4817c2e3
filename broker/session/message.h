// Message: one application message as the broker routes it, immutable once built and shared
// by every session it is delivered to (across shards: the refcount is atomic, the value is
// never mutated). Delivery: that message addressed to one session.
#ifndef SLUICE_BROKER_SESSION_MESSAGE_H_
#define SLUICE_BROKER_SESSION_MESSAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mqtt/codec/packets.h"

namespace sluice::broker {

struct Message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  // Forwarded MQTT 5 properties: never a topic alias or subscription identifiers (those are
  // per connection / per subscription).
  mqtt::Properties properties;
  std::string publisher;     // client id of the sender ("" for the broker itself), for no-local
  int64_t received_ms = 0;   // monotonic arrival time, for the message expiry interval
  // Where the commit log stored it (QoS 1/2 and retained messages); offset -1 = not stored
  // (QoS 0, $SYS). Set once, before the message is shared.
  uint32_t partition = 0;
  int64_t offset = -1;

  // Remaining expiry in seconds at now_ms; nullopt = never expires. 0 = expired.
  std::optional<uint32_t> RemainingExpiryS(int64_t now_ms) const {
    if (!properties.message_expiry_interval) return std::nullopt;
    int64_t left_ms = static_cast<int64_t>(*properties.message_expiry_interval) * 1000 -
                      (now_ms - received_ms);
    if (left_ms <= 0) return 0u;
    return static_cast<uint32_t>((left_ms + 999) / 1000);
  }
};
using MessagePtr = std::shared_ptr<const Message>;

struct Delivery {
  MessagePtr message;
  uint8_t qos = 0;      // min(message QoS, granted QoS)
  bool retain = false;  // the RETAIN flag to send
  // Sent from the retained store on SUBSCRIBE: not part of the session's position in the
  // log, so it never holds back (or moves) the session's cursors.
  bool retained_copy = false;
  // A $share group's pick for this member: the member cannot read it back from the log
  // (which member gets a message is decided when it is routed), so it waits in memory.
  bool shared = false;
  // Session bookkeeping: queued in the read-ahead (in the log) rather than the memory queue.
  bool read_ahead = false;
  std::vector<uint32_t> subscription_ids;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SESSION_MESSAGE_H_
