// The property table (property_table.h) against a copy of MQTT 5 section 2.2.2.2 written
// here independently: every identifier 0x01..0x2A has a row or is unassigned in the spec,
// each row has the spec's name, wire type and packets, the value checks and repeat rules the
// codec promises, and the Properties member its comment in packets.h names. Then each row
// through the writer and the reader, byte by byte.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "mqtt/codec/codec.h"
#include "mqtt/codec/internal.h"
#include "mqtt/codec/property_table.h"

namespace sluice::mqtt::internal {
namespace {

using S = PropertyScope;

struct SpecRow {
  const char* name;
  WireType type;
  std::set<S> packets;  // "Will Properties" counted as a packet, as the spec's table does
};

// MQTT Version 5.0, Table 2-4 (section 2.2.2.2). Identifiers missing here are unassigned.
const std::map<uint32_t, SpecRow>& Spec() {
  using W = WireType;
  static const auto* spec = new std::map<uint32_t, SpecRow>{
      {0x01, {"payload format indicator", W::kByte, {S::kPublish, S::kWill}}},
      {0x02, {"message expiry interval", W::kU32, {S::kPublish, S::kWill}}},
      {0x03, {"content type", W::kUtf8, {S::kPublish, S::kWill}}},
      {0x08, {"response topic", W::kUtf8, {S::kPublish, S::kWill}}},
      {0x09, {"correlation data", W::kBinary, {S::kPublish, S::kWill}}},
      {0x0B, {"subscription identifier", W::kVarint, {S::kPublish, S::kSubscribe}}},
      {0x11, {"session expiry interval", W::kU32, {S::kConnect, S::kConnack, S::kDisconnect}}},
      {0x12, {"assigned client identifier", W::kUtf8, {S::kConnack}}},
      {0x13, {"server keep alive", W::kU16, {S::kConnack}}},
      {0x15, {"authentication method", W::kUtf8, {S::kConnect, S::kConnack, S::kAuth}}},
      {0x16, {"authentication data", W::kBinary, {S::kConnect, S::kConnack, S::kAuth}}},
      {0x17, {"request problem information", W::kByte, {S::kConnect}}},
      {0x18, {"will delay interval", W::kU32, {S::kWill}}},
      {0x19, {"request response information", W::kByte, {S::kConnect}}},
      {0x1A, {"response information", W::kUtf8, {S::kConnack}}},
      {0x1C, {"server reference", W::kUtf8, {S::kConnack, S::kDisconnect}}},
      {0x1F, {"reason string", W::kUtf8,
              {S::kConnack, S::kPuback, S::kPubrec, S::kPubrel, S::kPubcomp, S::kSuback,
               S::kUnsuback, S::kDisconnect, S::kAuth}}},
      {0x21, {"receive maximum", W::kU16, {S::kConnect, S::kConnack}}},
      {0x22, {"topic alias maximum", W::kU16, {S::kConnect, S::kConnack}}},
      {0x23, {"topic alias", W::kU16, {S::kPublish}}},
      {0x24, {"maximum qos", W::kByte, {S::kConnack}}},
      {0x25, {"retain available", W::kByte, {S::kConnack}}},
      {0x26, {"user property", W::kUtf8Pair,
              {S::kConnect, S::kWill, S::kConnack, S::kPublish, S::kPuback, S::kPubrec,
               S::kPubrel, S::kPubcomp, S::kSubscribe, S::kSuback, S::kUnsubscribe,
               S::kUnsuback, S::kDisconnect, S::kAuth}}},
      {0x27, {"maximum packet size", W::kU32, {S::kConnect, S::kConnack}}},
      {0x28, {"wildcard subscription available", W::kByte, {S::kConnack}}},
      {0x29, {"subscription identifiers available", W::kByte, {S::kConnack}}},
      {0x2A, {"shared subscription available", W::kByte, {S::kConnack}}},
  };
  return *spec;
}

std::set<S> ScopesOf(uint16_t bits) {
  std::set<S> out;
  for (int s = 0; s <= static_cast<int>(S::kAuth); ++s) {
    if (bits & scope::Bit(static_cast<S>(s))) out.insert(static_cast<S>(s));
  }
  return out;
}

TEST(PropertyTableTest, EveryIdentifierHasARowExactlyWhenTheSpecAssignsIt) {
  EXPECT_EQ(kPropertyCount, Spec().size());
  for (uint32_t id = 0; id <= 0x2A; ++id) {
    const auto it = Spec().find(id);
    const int row = PropertyRow(id);
    if (it == Spec().end()) {
      EXPECT_EQ(row, -1) << "0x" << std::hex << id << " is unassigned in MQTT 5";
      continue;
    }
    ASSERT_GE(row, 0) << "no row for 0x" << std::hex << id;
    const PropertyDescriptor& d = kProperties[row];
    EXPECT_EQ(d.id, id);
    EXPECT_STREQ(d.name, it->second.name);
    EXPECT_EQ(d.type, it->second.type) << d.name;
    EXPECT_EQ(ScopesOf(d.scopes), it->second.packets) << d.name;
  }
  for (uint32_t id : {0x2Bu, 0x30u, 0x7Fu, 0x80u, 0x3FFFu, 268435455u}) {
    EXPECT_EQ(PropertyRow(id), -1) << id;
  }
}

TEST(PropertyTableTest, ValueChecks) {
  // 0/1 flags (3.1.2.11.6, 3.1.2.11.7, 3.2.2.3.4, 3.2.2.3.5, 3.2.2.3.11-13; 3.3.2.3.2 has
  // only two values); non-zero values (3.1.2.11.3, 3.1.2.11.4, 3.3.2.3.4, 3.3.2.3.8);
  // the response topic is a Topic Name (3.3.2.3.5).
  const std::set<uint32_t> flags = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A};
  const std::map<uint32_t, uint8_t> non_zero = {
      {0x0B, reason::kProtocolError}, {0x21, reason::kProtocolError},
      {0x23, reason::kTopicAliasInvalid}, {0x27, reason::kProtocolError}};
  for (const PropertyDescriptor& d : kProperties) {
    SCOPED_TRACE(d.name);
    if (flags.count(d.id)) {
      EXPECT_EQ(d.check.kind, ValueCheck::kZeroOrOne);
      EXPECT_EQ(d.check.reason_code, reason::kProtocolError);
      EXPECT_EQ(std::string(d.check.message), std::string(d.name) + " not 0/1");
    } else if (non_zero.count(d.id)) {
      EXPECT_EQ(d.check.kind, ValueCheck::kNonZero);
      EXPECT_EQ(d.check.reason_code, non_zero.at(d.id));
      EXPECT_EQ(std::string(d.check.message), std::string(d.name) + " 0");
    } else if (d.id == 0x08) {
      EXPECT_EQ(d.check.kind, ValueCheck::kTopicName);
      EXPECT_EQ(d.check.reason_code, reason::kProtocolError);
    } else {
      EXPECT_EQ(d.check.kind, ValueCheck::kNone);
    }
    // Only user properties repeat anywhere, and subscription identifiers in PUBLISH
    // (3.3.2.3.8: one per matching subscription); everything else at most once (2.2.2.2).
    const uint16_t repeats = d.id == 0x26 ? scope::kAll : d.id == 0x0B ? scope::kPublish : 0;
    EXPECT_EQ(d.repeat_scopes, repeats);
  }
}

// Each row's member gets a value made from its identifier; the result must be what setting
// the members named in packets.h by hand gives.
TEST(PropertyTableTest, EachRowHoldsTheMemberPacketsHNames) {
  Properties via_table;
  for (const PropertyDescriptor& d : kProperties) {
    const std::string text = std::to_string(d.id);
    switch (d.type) {
      case WireType::kByte: via_table.*d.u8 = d.id; break;
      case WireType::kU16: via_table.*d.u16 = d.id; break;
      case WireType::kU32: via_table.*d.u32 = d.id; break;
      case WireType::kVarint: (via_table.*d.varints).push_back(d.id); break;
      case WireType::kUtf8:
      case WireType::kBinary: via_table.*d.str = text; break;
      case WireType::kUtf8Pair: (via_table.*d.pairs).push_back({"k", text}); break;
    }
  }
  Properties e;
  e.payload_format_indicator = 0x01;
  e.message_expiry_interval = 0x02;
  e.content_type = std::to_string(0x03);
  e.response_topic = std::to_string(0x08);
  e.correlation_data = std::to_string(0x09);
  e.subscription_identifiers = {0x0B};
  e.session_expiry_interval = 0x11;
  e.assigned_client_identifier = std::to_string(0x12);
  e.server_keep_alive = 0x13;
  e.authentication_method = std::to_string(0x15);
  e.authentication_data = std::to_string(0x16);
  e.request_problem_information = 0x17;
  e.will_delay_interval = 0x18;
  e.request_response_information = 0x19;
  e.response_information = std::to_string(0x1A);
  e.server_reference = std::to_string(0x1C);
  e.reason_string = std::to_string(0x1F);
  e.receive_maximum = 0x21;
  e.topic_alias_maximum = 0x22;
  e.topic_alias = 0x23;
  e.maximum_qos = 0x24;
  e.retain_available = 0x25;
  e.user_properties = {{"k", std::to_string(0x26)}};
  e.maximum_packet_size = 0x27;
  e.wildcard_subscription_available = 0x28;
  e.subscription_identifiers_available = 0x29;
  e.shared_subscription_available = 0x2A;
  EXPECT_EQ(via_table, e);
}

// A valid value of the row's type, as a Properties member and as the spec's bytes.
void SampleValue(const PropertyDescriptor& d, Properties* p, std::string* bytes) {
  *bytes = std::string(1, static_cast<char>(d.id));
  switch (d.type) {
    case WireType::kByte: p->*d.u8 = 1; *bytes += std::string("\x01", 1); break;
    case WireType::kU16: p->*d.u16 = 0x1234; *bytes += "\x12\x34"; break;
    case WireType::kU32: p->*d.u32 = 0x12345678; *bytes += "\x12\x34\x56\x78"; break;
    case WireType::kVarint: (p->*d.varints).push_back(300); *bytes += "\xAC\x02"; break;
    case WireType::kUtf8: p->*d.str = "a/b"; *bytes += std::string("\x00\x03" "a/b", 5); break;
    case WireType::kBinary:
      p->*d.str = std::string("\x00\xFF", 2);
      *bytes += std::string("\x00\x02\x00\xFF", 4);
      break;
    case WireType::kUtf8Pair:
      (p->*d.pairs).push_back({"k", "vv"});
      *bytes += std::string("\x00\x01k\x00\x02vv", 7);
      break;
  }
}

TEST(PropertyTableTest, EachRowIsWrittenAndReadAsItsWireType) {
  for (const PropertyDescriptor& d : kProperties) {
    SCOPED_TRACE(d.name);
    Properties p;
    std::string expected;
    SampleValue(d, &p, &expected);
    if (d.id == 0x16) {  // authentication data needs its method beside it when read back
      p.authentication_method = "m";
      expected = std::string("\x15\x00\x01m", 4) + expected;
    }
    ASSERT_EQ(PropertiesSize(p), expected.size());
    std::string block;
    Writer w(&block);
    WriteProperties(p, expected.size(), &w);
    EXPECT_EQ(block, std::string(1, static_cast<char>(expected.size())) + expected);
    for (S scope : ScopesOf(d.scopes)) {
      Reader r(block);
      Properties back;
      CodecError error;
      ASSERT_TRUE(ReadProperties(&r, scope, &back, &error)) << error.message;
      EXPECT_TRUE(r.empty());
      EXPECT_EQ(back, p);
    }
  }
}

// The bare-block path of DecodeStoredProperties reads without DecodeLimits: no limit on user
// properties (and, under --config=asan, no reference to a dead temporary for the limits).
TEST(StoredPropertiesTest, BareBlockHasNoUserPropertyLimit) {
  std::string block;
  for (int i = 0; i < 2000; ++i) block += std::string("\x26\x00\x01k\x00\x01v", 7);
  Properties p;
  CodecError error;
  ASSERT_TRUE(DecodeStoredProperties(block, &p, &error)) << error.message;
  EXPECT_EQ(p.user_properties.size(), 2000u);
}

}  // namespace
}  // namespace sluice::mqtt::internal
