// Test helpers for the codec tests: hex bytes, frame building, and packets that carry every
// property their kind allows. Test-only.
#ifndef SLUICE_MQTT_CODEC_TEST_UTIL_H_
#define SLUICE_MQTT_CODEC_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/codec.h"
#include "mqtt/codec/packets.h"
#include "gtest/gtest.h"

namespace sluice::mqtt::testing {

// "10 0c 00 04" -> bytes; spaces are ignored.
inline std::string FromHex(std::string_view hex) {
  std::string out;
  int high = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

inline std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

inline std::string VarintBytes(uint32_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v);
  return out;
}

// A frame with the given first byte around `body` (remaining length computed).
inline std::string Frame(uint8_t first_byte, std::string_view body) {
  std::string out(1, static_cast<char>(first_byte));
  out += VarintBytes(static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

// A two-byte-length-prefixed string.
inline std::string Str(std::string_view s) {
  std::string out;
  out.push_back(static_cast<char>(s.size() >> 8));
  out.push_back(static_cast<char>(s.size()));
  out.append(s);
  return out;
}

// A property block (length varint + contents).
inline std::string Props(std::string_view contents) {
  return VarintBytes(static_cast<uint32_t>(contents.size())) + std::string(contents);
}

inline std::string Enc(const Packet& p, Version v) {
  std::string out;
  Encode(p, v, &out);
  return out;
}

// Decodes and returns the reason code of the failure, or -1 if decoding succeeded.
inline int DecodeReason(std::string_view frame, Version v) {
  Packet p;
  CodecError e;
  if (Decode(frame, v, &p, &e)) return -1;
  EXPECT_FALSE(e.message.empty());
  return e.reason_code;
}

inline Packet MustDecode(std::string_view frame, Version v) {
  Packet p;
  CodecError e;
  EXPECT_TRUE(Decode(frame, v, &p, &e)) << e.message << " (0x" << std::hex
                                        << int{e.reason_code} << ") in " << ToHex(frame);
  return p;
}

// --- packets carrying every property their kind allows (MQTT 5 table 2.2.2.2) --------------

inline UserProperties SomeUserProperties() {
  return {{"k1", "v1"}, {"k1", "v2"}, {"", ""}, {"ключ", "значение"}};
}

inline Properties ConnectProperties() {
  Properties p;
  p.session_expiry_interval = 0xFFFFFFFF;
  p.receive_maximum = 20;
  p.maximum_packet_size = 1 << 20;
  p.topic_alias_maximum = 10;
  p.request_response_information = 1;
  p.request_problem_information = 0;
  p.user_properties = SomeUserProperties();
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = std::string("\x00\x01\xff", 3);
  return p;
}

inline Properties WillProperties() {
  Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 3600;
  p.content_type = "text/plain";
  p.response_topic = "reply/to";
  p.correlation_data = std::string("\x00\x7f", 2);
  p.will_delay_interval = 30;
  p.user_properties = SomeUserProperties();
  return p;
}

inline Properties ConnackProperties() {
  Properties p;
  p.session_expiry_interval = 60;
  p.assigned_client_identifier = "auto-1234";
  p.server_keep_alive = 120;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = "server-first";
  p.response_information = "resp/";
  p.server_reference = "other:1883";
  p.reason_string = "ok";
  p.receive_maximum = 65535;
  p.topic_alias_maximum = 0;
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.user_properties = SomeUserProperties();
  p.maximum_packet_size = 268435460;
  p.wildcard_subscription_available = 1;
  p.subscription_identifiers_available = 0;
  p.shared_subscription_available = 1;
  return p;
}

inline Properties PublishProperties() {
  Properties p = WillProperties();
  p.will_delay_interval.reset();
  p.subscription_identifiers = {1, 127, 128, 16384, 268435455};
  p.topic_alias = 7;
  return p;
}

inline Properties ReasonProperties() {
  Properties p;
  p.reason_string = "because";
  p.user_properties = SomeUserProperties();
  return p;
}

inline Properties SubscribeProperties() {
  Properties p;
  p.subscription_identifiers = {268435455};
  p.user_properties = SomeUserProperties();
  return p;
}

inline Properties DisconnectProperties() {
  Properties p = ReasonProperties();
  p.session_expiry_interval = 0;
  p.server_reference = "elsewhere";
  return p;
}

inline Properties AuthProperties() {
  Properties p = ReasonProperties();
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = std::string("\x01\x00\x02", 3);
  return p;
}

// Representative packets of every kind, valid for `v` (properties only for 5.0).
inline std::vector<Packet> SamplePackets(Version v) {
  const bool v5 = v == Version::k5;
  auto props = [v5](Properties p) { return v5 ? p : Properties{}; };
  std::vector<Packet> out;

  Connect minimal;
  minimal.version = v;
  minimal.client_id = "c";
  out.push_back(minimal);

  Connect full;
  full.version = v;
  full.clean_start = false;
  full.keep_alive_s = 65535;
  full.client_id = "client-é";
  full.will = Will{"will/topic", std::string("bye\0", 4), 2, true, props(WillProperties())};
  full.username = "user";
  full.password = std::string("p\0ss", 4);
  full.properties = props(ConnectProperties());
  out.push_back(full);

  Connect empty_id;
  empty_id.version = v;
  empty_id.will = Will{"w", "", 1, false, {}};
  empty_id.username = "";
  out.push_back(empty_id);

  out.push_back(Connack{});
  out.push_back(Connack{true, reason::kSuccess, props(ConnackProperties())});
  out.push_back(Connack{false, v5 ? reason::kNotAuthorized : uint8_t{5}, {}});

  out.push_back(Publish{"a/b", "hello", 0, false, false, 0, {}});
  out.push_back(Publish{"a/b/€", std::string(300, 'x'), 1, true, true, 1, props(PublishProperties())});
  out.push_back(Publish{"t", "", 2, false, false, 65535, {}});
  if (v5) {
    Publish aliased{"", "p", 1, false, false, 9, {}};
    aliased.properties.topic_alias = 3;
    out.push_back(aliased);
  }

  for (PacketType t : {PacketType::kPuback, PacketType::kPubrec, PacketType::kPubrel,
                       PacketType::kPubcomp}) {
    out.push_back(Ack{t, 1, reason::kSuccess, {}});
    if (v5) {
      const uint8_t code = (t == PacketType::kPubrel || t == PacketType::kPubcomp)
                               ? reason::kPacketIdentifierNotFound
                               : reason::kNoMatchingSubscribers;
      out.push_back(Ack{t, 2, code, {}});
      out.push_back(Ack{t, 3, reason::kSuccess, ReasonProperties()});
      out.push_back(Ack{t, 65535, code, ReasonProperties()});
    }
  }

  Subscribe sub;
  sub.packet_id = 10;
  sub.subscriptions.push_back({"a/+/c", 0});
  sub.subscriptions.push_back({"#", 2});
  if (v5) {
    sub.subscriptions.push_back({"$share/g/x", 1, true, true, 2});
    sub.subscriptions.push_back({"y", 1, false, false, 1});
    sub.properties = SubscribeProperties();
  }
  out.push_back(sub);

  Suback suback;
  suback.packet_id = 10;
  suback.reason_codes = {0, 1, 2, 0x80};
  if (v5) {
    suback.reason_codes.push_back(reason::kSharedSubscriptionsNotSupported);
    suback.properties = ReasonProperties();
  }
  out.push_back(suback);

  Unsubscribe unsub;
  unsub.packet_id = 11;
  unsub.filters = {"a/+/c", "#"};
  if (v5) unsub.properties.user_properties = SomeUserProperties();
  out.push_back(unsub);

  Unsuback unsuback;
  unsuback.packet_id = 11;
  if (v5) {
    unsuback.reason_codes = {0, reason::kNoSubscriptionExisted};
    unsuback.properties = ReasonProperties();
  }
  out.push_back(unsuback);

  out.push_back(Pingreq{});
  out.push_back(Pingresp{});
  out.push_back(Disconnect{});
  if (v5) {
    out.push_back(Disconnect{reason::kDisconnectWithWill, {}});
    out.push_back(Disconnect{reason::kServerMoved, DisconnectProperties()});
    out.push_back(Auth{});
    out.push_back(Auth{reason::kContinueAuthentication, {}});
    out.push_back(Auth{reason::kReauthenticate, AuthProperties()});
  }
  return out;
}

}  // namespace sluice::mqtt::testing

#endif  // SLUICE_MQTT_CODEC_TEST_UTIL_H_
