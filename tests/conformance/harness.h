// Black-box harness for the MQTT conformance tests: a broker child process, a raw-byte TCP
// client and a gtest fixture that ties them together.
//
// The broker under test is //broker:sluiced (path from the SLUICED environment variable set in
// BUILD). With SLUICE_TEST_BROKER=mosquitto the same tests run against /usr/sbin/mosquitto for
// comparison; Sluice flags are translated to mosquitto.conf options where an equivalent exists,
// and a test using a flag without one is skipped.
//
// Every wait is bounded (kTimeout by default). The only fixed waits are the "nothing arrives"
// checks (RawClient::ExpectSilent, kSilence) and waits for protocol timers to run out.
//
// Not thread-safe: one test thread drives everything.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/conformance/packets.h"
#include "tests/conformance/process.h"

namespace sluice::conformance {

using namespace std::chrono_literals;

inline constexpr Millis kTimeout = 5000ms;  // default bound for anything we expect to happen
inline constexpr Millis kSilence = 300ms;   // window for "this must NOT arrive"

// A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY; -1 if refused.
int ConnectTcp(uint16_t port);

// True when SLUICE_TEST_BROKER=mosquitto.
bool UnderMosquitto();

// A running broker listening on 127.0.0.1:port(). The destructor stops it (SIGTERM, then SIGKILL
// after a bound) and always reaps it.
// A port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close): for servers
// that must be told their port before they start (mosquitto, a cluster's peer list).
uint16_t PickFreePort();

class BrokerProcess {
 public:
  // `flags` are Sluice command-line flags ("--receive-maximum=2"). Returns nullptr with *error set
  // if the broker did not come up within 10 s; *unsupported is set (and nullptr returned) when
  // running mosquitto and a flag has no mosquitto equivalent.
  // `wrapper` runs the broker through another program, e.g. {"prlimit", "--nofile=64"}.
  // A non-empty `log_path` sends the broker's stderr (its log) to that file instead of the
  // test's stderr.
  static std::unique_ptr<BrokerProcess> Start(const std::vector<std::string>& flags,
                                              std::string* error, bool* unsupported,
                                              const std::vector<std::string>& wrapper = {},
                                              const std::string& log_path = "");
  ~BrokerProcess();

  uint16_t port() const { return port_; }
  // Ports of sluiced's admin API and metrics endpoint (0 if disabled, or under mosquitto).
  uint16_t admin_port() const { return admin_port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  pid_t pid() const { return child_->pid(); }
  // Where its stderr goes ("" when inherited from the test).
  const std::string& log_path() const { return log_path_; }
  // Exit status if the broker has exited (e.g. crashed), nullopt while it runs.
  std::optional<int> Exited() { return child_->Poll(); }
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the waitpid status.
  int Stop(Millis grace = kTimeout) { return child_->Stop(SIGTERM, grace); }

 private:
  BrokerProcess() = default;
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t metrics_port_ = 0;
  std::string log_path_;
};

// A blocking TCP connection to the broker that speaks raw bytes. A client whose connection
// failed behaves like a closed one (reads return nothing), so tests need no null checks.
class RawClient {
 public:
  static std::unique_ptr<RawClient> Open(uint16_t port, Version version);
  ~RawClient();

  Version version() const { return version_; }
  bool v5() const { return version_ == kV5; }

  // Writes all of `bytes`; false if the connection is gone.
  bool Send(std::string_view bytes);
  // One whole frame (fixed header, remaining length, body) as raw bytes; empty if none arrived
  // within `timeout` or the connection closed (then closed() is true).
  Bytes Read(Millis timeout = kTimeout);
  // The first frame for which `match` holds, reading past (and keeping, in order, for later
  // Read calls) any others: e.g. a PUBREL that the broker sends after a new PUBLISH.
  Bytes ReadWhere(const std::function<bool(const Packet&)>& match, Millis timeout = kTimeout);
  // Read() + Decode() with this client's version.
  Packet ReadDecoded(Millis timeout = kTimeout) { return Decode(version_, Read(timeout)); }
  // True if the peer closes (EOF or reset) within `timeout`. Frames arriving before the close
  // are skipped and kept in skipped().
  bool ExpectClosed(Millis timeout = kTimeout);
  // True if no byte (and no close) arrives within `window`. A fixed wait by design.
  bool ExpectSilent(Millis window = kSilence);
  // Closes the socket without DISCONNECT (an abnormal disconnection for the broker).
  void Drop();

  bool closed() const { return closed_; }
  const std::vector<Bytes>& skipped() const { return skipped_; }
  // Next packet identifier, 1..65535.
  uint16_t NextId() { return next_id_ = next_id_ == 65535 ? 1 : next_id_ + 1; }

  // The CONNACK seen by ConformanceTest::Client.
  Packet connack;

 private:
  explicit RawClient(Version v) : version_(v) {}

  Bytes ReadFrame(Millis timeout);  // from the socket only

  int fd_ = -1;
  Version version_;
  std::deque<Bytes> stash_;  // frames read past by ReadWhere, oldest first
  bool closed_ = false;
  Bytes in_;  // received bytes not yet returned as frames
  std::vector<Bytes> skipped_;
  uint16_t next_id_ = 0;
};

// Fixture: starts a broker per test (lazily, default flags, unless the test calls
// START_BROKER), and in TearDown checks that it is still alive, still serves a new client and
// shuts down cleanly on SIGTERM.
class ConformanceTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Use through START_BROKER so that a skip or failure ends the test. With `capture_log` the
  // broker's stderr goes to a file read by AwaitLogLine (and printed if the test fails).
  void StartBroker(const std::vector<std::string>& flags = {}, bool capture_log = false);
  uint16_t port();

  // The broker's log so far (StartBroker with capture_log), "" if none.
  std::string BrokerLog();
  // The first log line containing every one of `needles`, polling the log file until one is
  // there or `timeout` passes (then ""). For log records written after the event a test can
  // observe (e.g. a drop noted after the PUBACK), so a bounded poll.
  std::string AwaitLogLine(const std::vector<std::string>& needles, Millis timeout = kTimeout);

  // A TCP connection with nothing sent yet.
  std::unique_ptr<RawClient> Open(Version v = kV5);
  // CONNECT and expect CONNACK success (stored in client->connack).
  std::unique_ptr<RawClient> Client(const ConnectSpec& spec);
  std::unique_ptr<RawClient> Client5(const std::string& id, Properties props = {},
                                      bool clean = true);
  std::unique_ptr<RawClient> Client311(const std::string& id, bool clean = true);

  // SUBSCRIBE and return the SUBACK reason codes (empty if no SUBACK).
  std::vector<uint8_t> SubscribeReasons(RawClient& c, const std::vector<SubSpec>& subs,
                                 const Properties& props = {});
  // SUBSCRIBE one filter and expect the QoS to be granted.
  void SubscribeOk(RawClient& c, const std::string& filter, uint8_t qos = 0,
                   const Properties& props = {});
  // PUBLISH and complete the QoS flow as the sender (assigns an id if spec.id is 0).
  void PublishOk(RawClient& c, PublishSpec spec);
  // Read a PUBLISH and, if `ack`, complete its QoS flow as the receiver.
  Packet Receive(RawClient& c, bool ack = true, Millis timeout = kTimeout);
  // Receive n messages and return their payloads in arrival order, then expect silence.
  std::vector<std::string> ReceivePayloads(RawClient& c, int n);
  // 5.0: expect DISCONNECT with `reason` and then the close; 3.1.1: expect the close.
  void ExpectDisconnect(RawClient& c, uint8_t reason);
  // Expect the close; in 5.0 it may be preceded by DISCONNECT `reason` (a MAY in the spec).
  void ExpectClose(RawClient& c, uint8_t reason);

  std::unique_ptr<BrokerProcess> broker_;
};

// Starts the broker with flags; ends the test on a skip (mosquitto lacks a flag) or failure.
#define START_BROKER(...)                                     \
  do {                                                        \
    StartBroker(__VA_ARGS__);                                 \
    if (IsSkipped() || HasFatalFailure()) return;             \
  } while (0)

// For tests of behaviour where mosquitto 2.0.11 is known to deviate from the MQTT spec.
#define SKIP_UNDER_MOSQUITTO(why)                                             \
  do {                                                                        \
    if (::sluice::conformance::UnderMosquitto())                              \
      GTEST_SKIP() << "known mosquitto 2.0.11 deviation: " << (why);          \
  } while (0)

// Matches an ack (PUBACK..PUBCOMP, DISCONNECT) in any encoding the spec allows: in 5.0 a
// success reason code and empty properties may be omitted, and a reason string may be added.
::testing::AssertionResult IsAck(Version v, const Bytes& frame, PacketType type, uint16_t id,
                                 uint8_t reason = 0);
::testing::AssertionResult IsDisconnect(const Bytes& frame, uint8_t reason);

// The value of the sample `name` (e.g. `x_total{reason="a"}`) in the /metrics page served on
// 127.0.0.1:port, or nullopt if absent or unreachable. A minimal HTTP/1.0 client, bounded by
// kTimeout; tests/ops has the full parser.
std::optional<double> ScrapeMetric(uint16_t port, const std::string& name);

}  // namespace sluice::conformance
