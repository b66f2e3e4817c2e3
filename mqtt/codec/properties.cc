// MQTT 5 properties (section 2.2.2): the size, the writer and the reader of a property block,
// all derived from the one table in property_table.h. Nothing here names a property except
// the three a PublishView overrides per delivery.
//
// Encoding expands the table at compile time: ForEachRow calls a generic lambda once per row
// index, so a row's identifier, type and member pointer are constants and the encoders
// compile to one straight-line test per property, as the hand-written code did. Sizing and
// writing are one traversal (Emit) run with a SizeSink or a WriteSink, so they cannot
// disagree about what is written. Decoding finds the row by identifier (PropertyRow) and
// calls that row's reader, ReadRow<row>, compiled for the row's type, member and check.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mqtt/codec/internal.h"
#include "mqtt/codec/property_table.h"

namespace sluice::mqtt::internal {
namespace {

// --- traversal ----------------------------------------------------------------------------

template <typename F, size_t... I>
void ForEachRowImpl(F& f, std::index_sequence<I...>) {
  (f(std::integral_constant<size_t, I>{}), ...);
}
// Calls f(std::integral_constant<size_t, I>) for every row I of kProperties, in order.
template <typename F>
void ForEachRow(F&& f) {
  ForEachRowImpl(f, std::make_index_sequence<kPropertyCount>{});
}

// The member of row I in `p` (const if `p` is).
template <size_t I, typename Props>
auto& Field(Props& p) {
  constexpr const PropertyDescriptor& d = kProperties[I];
  if constexpr (d.type == WireType::kByte) return p.*(d.u8);
  else if constexpr (d.type == WireType::kU16) return p.*(d.u16);
  else if constexpr (d.type == WireType::kU32) return p.*(d.u32);
  else if constexpr (d.type == WireType::kVarint) return p.*(d.varints);
  else if constexpr (d.type == WireType::kUtf8Pair) return p.*(d.pairs);
  else return p.*(d.str);  // kUtf8, kBinary
}

// The two sinks of a traversal, each one pointer and passed by value (kept in a register).
// What one property costs on the wire (its identifier is one byte)...
static_assert(kMaxPropertyId < 0x80, "identifiers are written as one byte");
class SizeSink {
 public:
  explicit SizeSink(size_t* n) : n_(n) {}
  void Byte(uint8_t, uint8_t) const { *n_ += 2; }
  void U16(uint8_t, uint16_t) const { *n_ += 3; }
  void U32(uint8_t, uint32_t) const { *n_ += 5; }
  void Varint(uint8_t, uint32_t v) const { *n_ += 1 + VarintSize(v); }
  void String(uint8_t, std::string_view s) const { *n_ += 3 + s.size(); }
  void Pair(uint8_t, std::string_view k, std::string_view v) const {
    *n_ += 5 + k.size() + v.size();
  }

 private:
  size_t* n_;
};

// ... and its bytes (a fixed-size property in one append).
class WriteSink {
 public:
  explicit WriteSink(Writer* w) : w_(w) {}
  void Byte(uint8_t id, uint8_t v) const { Append<2>({C(id), C(v)}); }
  void U16(uint8_t id, uint16_t v) const { Append<3>({C(id), C(v >> 8), C(v)}); }
  void U32(uint8_t id, uint32_t v) const {
    Append<5>({C(id), C(v >> 24), C(v >> 16), C(v >> 8), C(v)});
  }
  void Varint(uint8_t id, uint32_t v) const { w_->Byte(id); w_->Varint(v); }
  void String(uint8_t id, std::string_view s) const { w_->Byte(id); w_->String(s); }
  void Pair(uint8_t id, std::string_view k, std::string_view v) const {
    w_->Byte(id);
    w_->String(k);
    w_->String(v);
  }

 private:
  static constexpr char C(uint32_t byte) { return static_cast<char>(byte); }
  template <size_t N>
  void Append(const char (&bytes)[N]) const { w_->Raw(std::string_view(bytes, N)); }
  Writer* w_;
};

// One member's occurrences, by its C++ type (UTF-8 and binary strings are written alike).
template <typename Sink>
void Put(Sink s, uint8_t id, const std::optional<uint8_t>& v) { if (v) s.Byte(id, *v); }
template <typename Sink>
void Put(Sink s, uint8_t id, const std::optional<uint16_t>& v) { if (v) s.U16(id, *v); }
template <typename Sink>
void Put(Sink s, uint8_t id, const std::optional<uint32_t>& v) { if (v) s.U32(id, *v); }
template <typename Sink>
void Put(Sink s, uint8_t id, const std::optional<std::string>& v) { if (v) s.String(id, *v); }
template <typename Sink>
void Put(Sink s, uint8_t id, const std::vector<uint32_t>& v) {
  for (uint32_t x : v) s.Varint(id, x);
}
template <typename Sink>
void Put(Sink s, uint8_t id, const UserProperties& v) {
  for (const auto& [key, value] : v) s.Pair(id, key, value);
}

// Every property set in `p`, in ascending identifier order.
template <typename Sink>
void Emit(const Properties& p, Sink sink) {
  ForEachRow([&](auto i) { Put(sink, kProperties[i].id, Field<i>(p)); });
}

// The PUBLISH properties of a view: the rows allowed in PUBLISH, from the message's
// Properties except for the per-delivery ones (codec.h): the view's message expiry interval
// replaces the message's when set; topic alias and subscription identifiers belong to the
// connection, so only the view's are written.
template <typename Sink>
void EmitView(const PublishView& v, const Properties& p, Sink sink) {
  ForEachRow([&](auto i) {
    constexpr const PropertyDescriptor& d = kProperties[i];
    using Member = std::remove_cvref_t<decltype(Field<i>(p))>;
    if constexpr ((d.scopes & scope::kPublish) == 0) {
      // Not a PUBLISH property: nothing to write.
    } else if constexpr (d.id == kMessageExpiryIntervalId) {
      static_assert(std::is_same_v<Member, decltype(v.message_expiry_interval)>);
      Put(sink, d.id, v.message_expiry_interval ? v.message_expiry_interval : Field<i>(p));
    } else if constexpr (d.id == kTopicAliasId) {
      static_assert(std::is_same_v<Member, decltype(v.topic_alias)>);
      Put(sink, d.id, v.topic_alias);
    } else if constexpr (d.id == kSubscriptionIdentifierId) {
      static_assert(std::is_same_v<const Member*, decltype(v.subscription_identifiers)>);
      if (v.subscription_identifiers) Put(sink, d.id, *v.subscription_identifiers);
    } else {
      Put(sink, d.id, Field<i>(p));
    }
  });
}

// --- reading ------------------------------------------------------------------------------

// True if `value` passes row I's check; else fills *e with the row's reason and message.
template <size_t I, typename T>
bool Passes(const T& value, CodecError* e) {
  constexpr PropertyCheck c = kProperties[I].check;
  if constexpr (c.kind == ValueCheck::kZeroOrOne) {
    if (value > 1) return Fail(e, c.reason_code, c.message);
  } else if constexpr (c.kind == ValueCheck::kNonZero) {
    if (value == 0) return Fail(e, c.reason_code, c.message);
  } else if constexpr (c.kind == ValueCheck::kTopicName) {
    if (!IsValidTopicName(value)) return Fail(e, c.reason_code, c.message);
  }
  return true;
}

// Reads one value of row I into *out. A byte or a subscription identifier failing its check
// is not stored; a two/four-byte integer or a string is stored, then checked. (The order the
// hand-written reader had, kept so that even a failed decode leaves the same partial
// Properties behind.)
template <size_t I>
bool ReadRow(Reader* r, Properties* out, CodecError* e) {
  constexpr WireType type = kProperties[I].type;
  auto& field = Field<I>(*out);
  if constexpr (type == WireType::kByte) {
    uint8_t v = 0;
    if (!r->ReadByte(&v, e) || !Passes<I>(v, e)) return false;
    field = v;
    return true;
  } else if constexpr (type == WireType::kU16) {
    uint16_t v = 0;
    if (!r->ReadU16(&v, e)) return false;
    field = v;
    return Passes<I>(v, e);
  } else if constexpr (type == WireType::kU32) {
    uint32_t v = 0;
    if (!r->ReadU32(&v, e)) return false;
    field = v;
    return Passes<I>(v, e);
  } else if constexpr (type == WireType::kVarint) {
    uint32_t v = 0;
    if (!r->ReadVarint(&v, e) || !Passes<I>(v, e)) return false;
    field.push_back(v);
    return true;
  } else if constexpr (type == WireType::kUtf8) {
    std::string& v = field.emplace();
    return r->ReadUtf8(&v, e) && Passes<I>(v, e);
  } else if constexpr (type == WireType::kBinary) {
    return r->ReadBinary(&field.emplace(), e);
  } else {
    static_assert(type == WireType::kUtf8Pair);
    auto& pair = field.emplace_back();
    return r->ReadUtf8(&pair.first, e) && r->ReadUtf8(&pair.second, e);
  }
}

// ReadRow<row>, as a chain of `row == I` tests: GCC makes it one jump table with every
// ReadRow<I> inlined (no ReadRow is left in the object file), as the hand-written switch on
// the identifier was; a table of function pointers cost up to 3% more instructions per decode.
template <size_t... I>
bool ReadRowAt(size_t row, Reader* r, Properties* out, CodecError* e,
               std::index_sequence<I...>) {
  bool ok = false;
  ((row == I && (ok = ReadRow<I>(r, out, e), true)) || ...);
  return ok;
}

}  // namespace

size_t PropertiesSize(const Properties& p) {
  size_t n = 0;
  Emit(p, SizeSink(&n));
  return n;
}

void WriteProperties(const Properties& p, size_t size, Writer* w) {
  SLUICE_CHECK(size <= kMaxRemainingLength);
  w->Varint(static_cast<uint32_t>(size));
  if (size == 0) return;
  Emit(p, WriteSink(w));
}

size_t PublishViewPropertiesSize(const PublishView& v) {
  static const Properties kNone;
  size_t n = 0;
  EmitView(v, v.properties ? *v.properties : kNone, SizeSink(&n));
  return n;
}

void WritePublishViewProperties(const PublishView& v, size_t size, Writer* w) {
  static const Properties kNone;
  SLUICE_CHECK(size <= kMaxRemainingLength);
  w->Varint(static_cast<uint32_t>(size));
  if (size == 0) return;
  EmitView(v, v.properties ? *v.properties : kNone, WriteSink(w));
}

bool ReadProperties(Reader* r, PropertyScope scope, Properties* out, CodecError* e) {
  uint32_t length = 0;
  if (!r->ReadVarint(&length, e)) return false;
  if (length > r->remaining()) {
    return Fail(e, reason::kMalformedPacket, "property length exceeds packet");
  }
  Reader pr(r->Take(length), r->limits());
  const uint32_t max_user_properties = r->limits().max_user_properties;
  uint32_t user_properties = 0;
  static_assert(kMaxPropertyId < 64, "`seen` has a bit per identifier");
  uint64_t seen = 0;
  const uint16_t scope_bit = scope::Bit(scope);
  while (!pr.empty()) {
    uint32_t id = 0;
    if (!pr.ReadVarint(&id, e)) return false;
    const int row = PropertyRow(id);
    if (row < 0) return Fail(e, reason::kMalformedPacket, "unknown property identifier");
    const PropertyDescriptor* d = &kProperties[row];
    if ((d->scopes & scope_bit) == 0) {
      return Fail(e, reason::kMalformedPacket, "property not allowed in this packet");
    }
    const uint64_t bit = uint64_t{1} << id;
    if ((seen & bit) != 0 && (d->repeat_scopes & scope_bit) == 0) {
      return Fail(e, reason::kProtocolError, "duplicate property");
    }
    seen |= bit;
    // User properties are counted before they are allocated (DecodeLimits).
    if (d->type == WireType::kUtf8Pair && max_user_properties > 0 &&
        ++user_properties > max_user_properties) {
      return Fail(e, reason::kQuotaExceeded, "more user properties than max_user_properties");
    }
    if (!ReadRowAt(static_cast<size_t>(row), &pr, out, e,
                   std::make_index_sequence<kPropertyCount>{})) {
      return false;
    }
  }
  // Authentication data without a method is a Protocol Error (3.1.2.11.10, 3.2.2.3.18,
  // 3.15.2.2.3).
  if (out->authentication_data && !out->authentication_method) {
    return Fail(e, reason::kProtocolError, "authentication data without method");
  }
  return true;
}

}  // namespace sluice::mqtt::internal
