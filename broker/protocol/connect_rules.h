// The MQTT rules of a CONNECT that are decided from the packet and the server's settings
// alone (MQTT 5 3.1.2, 3.2.2; 3.1.1 3.1): the session expiry granted, the outgoing window,
// the keep alive enforced, the client's limits and what CONNACK tells it. Pure: no session,
// no socket; the connection applies the result. Thread-safe.
#ifndef SLUICE_BROKER_PROTOCOL_CONNECT_RULES_H_
#define SLUICE_BROKER_PROTOCOL_CONNECT_RULES_H_

#include <cstdint>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/packets.h"

namespace sluice::broker::protocol {

// The server settings the rules read (a view of BrokerConfig).
struct ConnectSettings {
  int64_t max_session_expiry = 0xFFFFFFFF;
  int64_t max_inflight = 100;          // 3.1.1 window
  int64_t server_keep_alive = 0;       // > 0: imposed on 5.0 clients
  int64_t max_keep_alive = 0;          // > 0: cap for 5.0 clients (and 0 = "none" replaced)
  int64_t receive_maximum = 100;       // what the server accepts unacknowledged (CONNACK)
  int64_t max_packet_size = 1 << 20;   // CONNACK Maximum Packet Size
  int64_t topic_alias_maximum = 0;     // aliases the client may use towards the server
};

struct Negotiated {
  uint32_t expiry_s = 0;  // kSessionNeverExpires: never
  uint16_t window = 0;    // outgoing QoS 1/2 window (the client's Receive Maximum)
  uint16_t keep_alive_s = 0;
  uint32_t client_max_packet_size = mqtt::kMaxRemainingLength + 5;
  uint16_t in_alias_max = 0;   // aliases the client may set
  uint16_t out_alias_max = 0;  // aliases the client accepts
  bool problem_information = true;
  // CONNACK's properties the rules decide (the caller adds session present, reason code,
  // assigned client id and authentication).
  mqtt::Properties connack;
};

Negotiated NegotiateConnect(const mqtt::Connect& connect, const ConnectSettings& settings);

}  // namespace sluice::broker::protocol

#endif  // SLUICE_BROKER_PROTOCOL_CONNECT_RULES_H_
