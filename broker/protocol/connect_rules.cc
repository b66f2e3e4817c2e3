#include "broker/protocol/connect_rules.h"

#include "broker/session/lifecycle.h"

namespace sluice::broker::protocol {

Negotiated NegotiateConnect(const mqtt::Connect& connect, const ConnectSettings& s) {
  Negotiated n;
  const bool v5 = connect.version == mqtt::Version::k5;
  // 3.1.1: a clean session ends with its connection, a persistent one never expires.
  n.expiry_s = v5 ? connect.properties.session_expiry_interval.value_or(0)
                  : (connect.clean_start ? 0 : kSessionNeverExpires);
  if (n.expiry_s > s.max_session_expiry) {
    n.expiry_s = static_cast<uint32_t>(s.max_session_expiry);
    if (v5) n.connack.session_expiry_interval = n.expiry_s;  // told, as 3.2.2.3.2 requires
  }
  n.window = v5 ? connect.properties.receive_maximum.value_or(65535)
                : static_cast<uint16_t>(s.max_inflight);
  n.keep_alive_s = connect.keep_alive_s;
  // 3.1.1 has no way to tell a client another keep alive: only 5.0 clients get one imposed.
  if (v5 && s.server_keep_alive > 0) {
    n.keep_alive_s = static_cast<uint16_t>(s.server_keep_alive);
    n.connack.server_keep_alive = n.keep_alive_s;
  } else if (v5 && s.max_keep_alive > 0 &&
             (n.keep_alive_s == 0 || n.keep_alive_s > s.max_keep_alive)) {
    n.keep_alive_s = static_cast<uint16_t>(s.max_keep_alive);
    n.connack.server_keep_alive = n.keep_alive_s;
  }
  if (!v5) return n;
  n.client_max_packet_size =
      connect.properties.maximum_packet_size.value_or(mqtt::kMaxRemainingLength + 5);
  n.out_alias_max = connect.properties.topic_alias_maximum.value_or(0);
  n.problem_information = connect.properties.request_problem_information.value_or(1) != 0;
  n.in_alias_max = static_cast<uint16_t>(s.topic_alias_maximum);
  if (s.receive_maximum != 65535)
    n.connack.receive_maximum = static_cast<uint16_t>(s.receive_maximum);
  n.connack.maximum_packet_size = static_cast<uint32_t>(s.max_packet_size);
  if (s.topic_alias_maximum > 0)
    n.connack.topic_alias_maximum = static_cast<uint16_t>(s.topic_alias_maximum);
  return n;
}

}  // namespace sluice::broker::protocol
