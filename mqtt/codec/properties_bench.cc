// Timing of the MQTT 5 property paths through the public codec API: sizing, encoding and
// decoding of property blocks (full and empty ones), and the PublishView delivery path.
// Prints ns/op per case (best of several rounds: the machine is shared). A measurement to
// compare builds (before/after a change to properties.cc), not a test: nothing is asserted.
//
//   bazel run -c opt //mqtt/codec:properties_bench           # or with --copt=-O2 (default)
//   properties_bench [--rounds=N] [--min-ms=M] [--case=SUBSTRING] [--iterations=N]
//
// --iterations=N runs each case exactly N times (one round, no calibration), which is what
// an instruction count wants: under `valgrind --tool=callgrind`, the difference between two
// runs with different N divided by their difference is instructions per operation, a number
// the load of a shared machine does not disturb.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "mqtt/codec/codec.h"

namespace sluice::mqtt {
namespace {

using Clock = std::chrono::steady_clock;

// Keeps a value alive for the optimiser without costing a store.
template <typename T>
inline void Keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

UserProperties SomeUserProperties() { return {{"k1", "v1"}, {"k1", "v2"}, {"trace", "abc123"}}; }

Properties AllConnackProperties() {
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
  p.topic_alias_maximum = 10;
  p.maximum_qos = 1;
  p.retain_available = 1;
  p.user_properties = SomeUserProperties();
  p.maximum_packet_size = 1 << 20;
  p.wildcard_subscription_available = 1;
  p.subscription_identifiers_available = 1;
  p.shared_subscription_available = 1;
  return p;
}

Properties AllPublishProperties() {
  Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 3600;
  p.content_type = "text/plain";
  p.response_topic = "reply/to";
  p.correlation_data = std::string("\x00\x7f", 2);
  p.subscription_identifiers = {1, 300};
  p.topic_alias = 7;
  p.user_properties = SomeUserProperties();
  return p;
}

// The usual message: one expiry and one user property.
Properties TypicalPublishProperties() {
  Properties p;
  p.message_expiry_interval = 60;
  p.user_properties = {{"trace", "abc123"}};
  return p;
}

struct Case {
  const char* name;
  std::function<void()> run;  // one operation
};

// Best-of-`rounds` ns per operation; each round runs for at least `min_ms`.
double Measure(const Case& c, int rounds, int min_ms) {
  // Calibrate the batch so that one round takes about min_ms.
  size_t batch = 1;
  while (true) {
    auto t0 = Clock::now();
    for (size_t i = 0; i < batch; ++i) c.run();
    auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (ms >= min_ms / 4.0) {
      batch = static_cast<size_t>(batch * (min_ms / std::max(ms, 0.001)));
      break;
    }
    batch *= 4;
  }
  batch = std::max<size_t>(batch, 1);
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    for (size_t i = 0; i < batch; ++i) c.run();
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / batch;
    best = std::min(best, ns);
  }
  return best;
}

std::string Encoded(const Packet& p) {
  std::string out;
  Encode(p, Version::k5, &out);
  return out;
}

int Main(int argc, char** argv) {
  int rounds = 7, min_ms = 100;
  long iterations = 0;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--min-ms=", 9) == 0) min_ms = std::atoi(argv[i] + 9);
    else if (std::strncmp(argv[i], "--iterations=", 13) == 0) iterations = std::atol(argv[i] + 13);
    else if (std::strncmp(argv[i], "--case=", 7) == 0) only = argv[i] + 7;
    else {
      std::fprintf(stderr,
                   "usage: %s [--rounds=N] [--min-ms=M] [--case=SUBSTRING] [--iterations=N]\n",
                   argv[0]);
      return 2;
    }
  }

  const Packet connack_full = Connack{false, reason::kSuccess, AllConnackProperties()};
  const Packet publish_full =
      Publish{"a/b/c", "payload", 1, false, false, 7, AllPublishProperties()};
  const Packet publish_typical =
      Publish{"a/b/c", "payload", 1, false, false, 7, TypicalPublishProperties()};
  const Packet publish_bare = Publish{"a/b/c", "payload", 1, false, false, 7, {}};
  const Packet puback_bare = Ack{PacketType::kPuback, 7, reason::kSuccess, {}};
  const std::string connack_full_bytes = Encoded(connack_full);
  const std::string publish_full_bytes = Encoded(publish_full);
  const std::string publish_typical_bytes = Encoded(publish_typical);
  const std::string publish_bare_bytes = Encoded(publish_bare);

  const Properties view_props = TypicalPublishProperties();
  const std::vector<uint32_t> view_ids = {3, 17};
  PublishView view;
  view.topic = "a/b/c";
  view.payload = "payload";
  view.qos = 1;
  view.packet_id = 7;
  view.properties = &view_props;
  view.subscription_identifiers = &view_ids;
  view.topic_alias = 4;
  view.message_expiry_interval = 30;
  PublishView view_bare = view;
  view_bare.properties = nullptr;
  view_bare.subscription_identifiers = nullptr;
  view_bare.topic_alias.reset();
  view_bare.message_expiry_interval.reset();

  std::string out;
  out.reserve(4096);
  Packet decoded;
  CodecError error;
  auto encode = [&](const Packet& p) {
    return [&out, &p] {
      out.clear();
      Encode(p, Version::k5, &out);
      Keep(out.data());
    };
  };
  auto size = [](const Packet& p) {
    return [&p] { Keep(EncodedSize(p, Version::k5)); };
  };
  auto decode = [&](const std::string& bytes) {
    return [&, bytes_view = std::string_view(bytes)] {
      SLUICE_CHECK(Decode(bytes_view, Version::k5, &decoded, &error));
      Keep(decoded.index());
    };
  };
  auto encode_view = [&](const PublishView& v) {
    return [&out, &v] {
      out.clear();
      EncodePublish(v, Version::k5, &out);
      Keep(out.data());
    };
  };

  const std::vector<Case> cases = {
      {"size    CONNACK, 17 properties", size(connack_full)},
      {"encode  CONNACK, 17 properties", encode(connack_full)},
      {"decode  CONNACK, 17 properties", decode(connack_full_bytes)},
      {"size    PUBLISH, all 8 kinds", size(publish_full)},
      {"encode  PUBLISH, all 8 kinds", encode(publish_full)},
      {"decode  PUBLISH, all 8 kinds", decode(publish_full_bytes)},
      {"encode  PUBLISH, expiry + 1 user", encode(publish_typical)},
      {"decode  PUBLISH, expiry + 1 user", decode(publish_typical_bytes)},
      {"size    PUBLISH, no properties", size(publish_bare)},
      {"encode  PUBLISH, no properties", encode(publish_bare)},
      {"decode  PUBLISH, no properties", decode(publish_bare_bytes)},
      {"encode  PUBACK, no properties", encode(puback_bare)},
      {"view    size, overrides + 2 ids", [&] { Keep(EncodedPublishSize(view, Version::k5)); }},
      {"view    encode, overrides + 2 ids", encode_view(view)},
      {"view    encode, no properties", encode_view(view_bare)},
  };
  std::printf("%-36s %10s\n", "case", "ns/op");
  for (const Case& c : cases) {
    if (!only.empty() && std::string_view(c.name).find(only) == std::string_view::npos) continue;
    if (iterations > 0) {
      auto t0 = Clock::now();
      for (long i = 0; i < iterations; ++i) c.run();
      const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      std::printf("%-36s %10.1f\n", c.name, ns / iterations);
    } else {
      std::printf("%-36s %10.1f\n", c.name, Measure(c, rounds, min_ms));
    }
  }
  return 0;
}

}  // namespace
}  // namespace sluice::mqtt

int main(int argc, char** argv) { return sluice::mqtt::Main(argc, argv); }
