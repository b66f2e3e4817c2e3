#include "tests/conformance/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace sluice::conformance {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Millis kStartTimeout = 10000ms;
constexpr int kReadyFd = 3;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : int(left);
}

std::string Env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// A fresh directory under TEST_TMPDIR for one broker's data and config.
std::string MakeDataDir() {
  static std::atomic<int> counter{0};
  std::string dir = Env("TEST_TMPDIR", "/tmp") + "/broker-" + std::to_string(getpid()) + "-" +
                    std::to_string(counter++);
  std::filesystem::create_directories(dir);
  return dir;
}



// Translates Sluice flags to a mosquitto.conf. Returns the first flag without an equivalent in
// *unsupported (empty if all translated).
// --deny-* have none: a mosquitto ACL file cannot say "everything except these filters".
std::string MosquittoConfig(uint16_t port, const std::vector<std::string>& flags,
                            std::string* unsupported) {
  std::string global = "allow_anonymous true\npersistence false\nlog_type error\nlog_type warning\n";
  if (geteuid() == 0) global += "user root\n";  // otherwise it drops privileges to 'mosquitto'
  std::string listener = "listener " + std::to_string(port) + " 127.0.0.1\n";
  static const std::map<std::string, std::pair<bool, std::string>> kSimple = {
      // flag -> (listener-scoped?, mosquitto option)
      {"max-packet-size", {false, "max_packet_size"}},
      {"max-inflight", {false, "max_inflight_messages"}},
      {"receive-maximum", {false, "max_inflight_messages"}},
      {"max-queued-messages", {false, "max_queued_messages"}},
      {"topic-alias-maximum", {true, "max_topic_alias"}},
      {"server-keep-alive", {false, "max_keepalive"}},
      {"allow-anonymous", {false, "allow_anonymous"}},
  };
  for (const std::string& flag : flags) {
    std::string name = flag.substr(2, flag.find('=') - 2);
    std::string value = flag.find('=') == std::string::npos ? "true" : flag.substr(flag.find('=') + 1);
    if (name == "log-level" || name == "shared-subscription-strategy") continue;
    auto it = kSimple.find(name);
    if (it == kSimple.end()) {
      *unsupported = flag;
      return {};
    }
    (it->second.first ? listener : global) += it->second.second + " " + value + "\n";
  }
  return global + listener;
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// Mosquitto cannot report a port it chose: bind port 0, read the port, close, hand it over.
uint16_t PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool UnderMosquitto() { return Env("SLUICE_TEST_BROKER") == "mosquitto"; }

// ---- BrokerProcess ----------------------------------------------------------------------

std::unique_ptr<BrokerProcess> BrokerProcess::Start(const std::vector<std::string>& flags,
                                                    std::string* error, bool* unsupported,
                                                    const std::vector<std::string>& wrapper,
                                                    const std::string& log_path) {
  std::unique_ptr<BrokerProcess> broker(new BrokerProcess);
  std::string dir = MakeDataDir();
  ChildProcess::Options options;
  options.stderr_path = log_path;
  broker->log_path_ = log_path;
  *unsupported = false;
  auto deadline = Clock::now() + kStartTimeout;
  if (UnderMosquitto()) {
    broker->port_ = PickFreePort();
    std::string flag;
    std::string config = MosquittoConfig(broker->port_, flags, &flag);
    if (!flag.empty()) {
      *unsupported = true;
      *error = "no mosquitto equivalent for " + flag;
      return nullptr;
    }
    std::ofstream(dir + "/mosquitto.conf") << config;
    options.argv = {Env("MOSQUITTO", "/usr/sbin/mosquitto"), "-c", dir + "/mosquitto.conf"};
  } else {
    // Ops listeners on free ports too, so that brokers of parallel tests never collide.
    options.argv = {Env("SLUICED", "broker/sluiced"), "--listen", "127.0.0.1:0", "--data-dir", dir,
                    "--ready-fd", std::to_string(kReadyFd), "--admin-listen", "127.0.0.1:0",
                    "--metrics-listen", "127.0.0.1:0"};
    options.argv.insert(options.argv.end(), flags.begin(), flags.end());
    options.argv.insert(options.argv.begin(), wrapper.begin(), wrapper.end());
    options.ready_fd = kReadyFd;
  }
  broker->child_ = ChildProcess::Spawn(options, error);
  if (!broker->child_) return nullptr;

  if (UnderMosquitto()) {
    // Poll connect() until the listener is up (bounded); mosquitto has no readiness signal.
    while (true) {
      if (int fd = ConnectTcp(broker->port_); fd >= 0) {
        close(fd);
        return broker;
      }
      if (auto status = broker->Exited()) {
        *error = "mosquitto " + DescribeStatus(*status) + " before listening";
        return nullptr;
      }
      if (Clock::now() > deadline) {
        *error = "mosquitto did not listen within 10 s";
        return nullptr;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  // Ready-fd protocol: "HOST:PORT\n" of the MQTT listener, then "NAME HOST:PORT\n" per ops
  // listener (admin, metrics).
  std::string all_ready = broker->child_->ReadReady(kStartTimeout);
  std::string ready = all_ready.substr(0, all_ready.find('\n') + 1);
  for (size_t at = ready.size(); at < all_ready.size();) {
    size_t end = all_ready.find('\n', at);
    std::string line = all_ready.substr(at, end == std::string::npos ? end : end - at);
    at = end == std::string::npos ? all_ready.size() : end + 1;
    size_t space = line.find(' '), port_at = line.rfind(':');
    if (space == std::string::npos || port_at == std::string::npos) continue;
    uint16_t port = uint16_t(std::atoi(line.c_str() + port_at + 1));
    if (line.compare(0, space, "admin") == 0) broker->admin_port_ = port;
    if (line.compare(0, space, "metrics") == 0) broker->metrics_port_ = port;
  }
  size_t colon = ready.rfind(':');
  if (ready.empty() || ready.back() != '\n' || colon == std::string::npos) {
    auto status = broker->child_->Wait(100ms);
    *error = "sluiced did not report HOST:PORT on its ready fd (got '" + ready + "'); it " +
             (status ? DescribeStatus(*status) : std::string("is still running"));
    return nullptr;
  }
  broker->port_ = uint16_t(std::stoi(ready.substr(colon + 1)));
  return broker;
}

BrokerProcess::~BrokerProcess() {
  if (child_) child_->Stop(SIGTERM, kTimeout);
}

// ---- RawClient --------------------------------------------------------------------------

std::unique_ptr<RawClient> RawClient::Open(uint16_t port, Version version) {
  std::unique_ptr<RawClient> c(new RawClient(version));
  c->fd_ = port ? ConnectTcp(port) : -1;
  c->closed_ = c->fd_ < 0;
  return c;
}

RawClient::~RawClient() { Drop(); }

bool RawClient::Send(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return bytes.empty();
}

Bytes RawClient::Read(Millis timeout) {
  if (!stash_.empty()) {
    Bytes frame = std::move(stash_.front());
    stash_.pop_front();
    return frame;
  }
  return ReadFrame(timeout);
}

Bytes RawClient::ReadWhere(const std::function<bool(const Packet&)>& match, Millis timeout) {
  for (auto it = stash_.begin(); it != stash_.end(); ++it) {
    if (match(Decode(version_, *it))) {
      Bytes frame = std::move(*it);
      stash_.erase(it);
      return frame;
    }
  }
  auto deadline = Clock::now() + timeout;
  while (true) {
    Bytes frame = ReadFrame(Millis(MillisLeft(deadline)));
    if (frame.empty() || match(Decode(version_, frame))) return frame;
    stash_.push_back(std::move(frame));
  }
}

Bytes RawClient::ReadFrame(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    // A whole frame buffered? Parse the remaining-length varint (spec 2.2.3) ourselves.
    if (in_.size() >= 2) {
      uint32_t len = 0;
      size_t i = 1;
      for (; i < in_.size() && i <= 4; ++i) {
        len |= uint32_t(uint8_t(in_[i]) & 0x7F) << (7 * (i - 1));
        if (!(uint8_t(in_[i]) & 0x80)) break;
      }
      if (i == 5) {  // a 5-byte varint from the broker: hand back what we have
        Bytes junk = std::move(in_);
        in_.clear();
        return junk;
      }
      if (i < in_.size() && in_.size() >= i + 1 + len) {
        Bytes frame = in_.substr(0, i + 1 + len);
        in_.erase(0, frame.size());
        return frame;
      }
    }
    if (closed_) return {};
    pollfd p{fd_, POLLIN, 0};
    int n = poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return {};  // timeout
    char buf[65536];
    ssize_t got = recv(fd_, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      closed_ = true;  // EOF or reset
      continue;        // still return any complete frame buffered before the close
    }
    in_.append(buf, size_t(got));
  }
}

bool RawClient::ExpectClosed(Millis timeout) {
  for (Bytes& f : stash_) skipped_.push_back(std::move(f));
  stash_.clear();
  auto deadline = Clock::now() + timeout;
  while (!closed_ && Clock::now() < deadline) {
    Bytes frame = Read(Millis(MillisLeft(deadline)));
    if (!frame.empty()) skipped_.push_back(std::move(frame));
  }
  // Frames buffered before the close were not consumed by the caller either.
  for (Bytes f = Read(0ms); !f.empty(); f = Read(0ms)) skipped_.push_back(std::move(f));
  return closed_;
}

bool RawClient::ExpectSilent(Millis window) {
  if (!stash_.empty() || !in_.empty() || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  int n;
  do n = poll(&p, 1, int(window.count()));
  while (n < 0 && errno == EINTR);
  return n == 0;
}

void RawClient::Drop() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  closed_ = true;
}

// ---- Assertions -------------------------------------------------------------------------

::testing::AssertionResult IsAck(Version v, const Bytes& frame, PacketType type, uint16_t id,
                                 uint8_t reason) {
  Packet p = Decode(v, frame);
  bool ok = p.error.empty() && p.type == type && p.id == id && p.reason == reason &&
            p.flags == (type == kPubrel ? 2 : 0);
  // Only the reason string and user properties may ride on an ack.
  for (const Property& prop : p.props.items())
    ok = ok && (prop.id == kReasonString || prop.id == kUserProperty);
  if (v == kV311) ok = ok && frame.size() == 4;
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got [" << Hex(frame) << "]" << (p.error.empty() ? "" : " (" + p.error + ")")
         << ", want " << Hex(Ack(v, type, id, reason)) << " or an equivalent encoding";
}

::testing::AssertionResult IsDisconnect(const Bytes& frame, uint8_t reason) {
  Packet p = Decode(kV5, frame);
  if (p.error.empty() && p.type == kDisconnect && p.flags == 0 && p.reason == reason)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got [" << Hex(frame) << "], want DISCONNECT "
                                       << Hex(Disconnect(kV5, reason));
}

// ---- Fixture ----------------------------------------------------------------------------

void ConformanceTest::StartBroker(const std::vector<std::string>& flags, bool capture_log) {
  if (broker_) broker_.reset();  // a test may restart with other flags
  std::string error;
  bool unsupported = false;
  std::string log_path;
  if (capture_log) {
    static int count = 0;
    log_path = Env("TEST_TMPDIR", "/tmp") + "/broker-log-" + std::to_string(getpid()) + "-" +
               std::to_string(count++) + ".txt";
  }
  broker_ = BrokerProcess::Start(flags, &error, &unsupported, {}, log_path);
  if (!broker_ && !log_path.empty()) error += "\nbroker log:\n" + ReadLog(log_path);
  if (unsupported) GTEST_SKIP() << error;
  if (!broker_) FAIL() << "broker did not start: " << error;
}

uint16_t ConformanceTest::port() {
  if (!broker_) StartBroker();
  return broker_ ? broker_->port() : 0;
}

std::string ConformanceTest::BrokerLog() {
  return broker_ && !broker_->log_path().empty() ? ReadLog(broker_->log_path()) : "";
}

std::string ConformanceTest::AwaitLogLine(const std::vector<std::string>& needles,
                                          Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    std::istringstream log(BrokerLog());
    for (std::string line; std::getline(log, line);) {
      bool all = true;
      for (const std::string& n : needles) all = all && line.find(n) != std::string::npos;
      if (all) return line;
    }
    if (Clock::now() >= deadline) return "";
    std::this_thread::sleep_for(20ms);  // bounded poll of a file; there is nothing to await
  }
}

void ConformanceTest::TearDown() {
  if (!broker_) return;
  if (HasFailure() && !broker_->log_path().empty()) {
    std::string log = BrokerLog();
    if (log.size() > 8000) log = "..." + log.substr(log.size() - 8000);
    std::fprintf(stderr, "---- broker log (%s) ----\n%s---- end of broker log ----\n",
                 broker_->log_path().c_str(), log.c_str());
  }
  if (auto status = broker_->Exited()) {
    ADD_FAILURE() << "the broker died during the test: " << DescribeStatus(*status);
    return;
  }
  // The broker must still serve a fresh client after whatever the test did to it.
  auto c = Open(kV311);
  c->Send(Connect({.version = kV311, .client_id = "teardown-probe"}));
  Packet connack = c->ReadDecoded();
  EXPECT_EQ(connack.type, kConnack) << "a fresh client gets no CONNACK after the test";
  if (connack.reason == 0) {  // refused when the test disabled anonymous access
    c->Send(Pingreq());
    EXPECT_EQ(Hex(c->Read()), "D0 00");
  }
  c->Drop();  // an open client would make a graceful shutdown wait for it
  int status = broker_->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM should stop the broker cleanly; it " << DescribeStatus(status);
}

std::unique_ptr<RawClient> ConformanceTest::Open(Version v) {
  auto c = RawClient::Open(port(), v);
  EXPECT_FALSE(c->closed()) << "cannot connect to 127.0.0.1:" << port();
  return c;
}

std::unique_ptr<RawClient> ConformanceTest::Client(const ConnectSpec& spec) {
  auto c = Open(spec.version);
  c->Send(conformance::Connect(spec));
  Bytes frame = c->Read();
  c->connack = Decode(spec.version, frame);
  EXPECT_TRUE(c->connack.error.empty() && c->connack.type == kConnack &&
              c->connack.reason == 0)
      << "CONNACK for '" << spec.client_id << "': [" << Hex(frame) << "] " << c->connack.error;
  return c;
}

std::unique_ptr<RawClient> ConformanceTest::Client5(const std::string& id, Properties props,
                                                     bool clean) {
  return Client({.version = kV5, .client_id = id, .clean = clean, .props = std::move(props)});
}

std::unique_ptr<RawClient> ConformanceTest::Client311(const std::string& id, bool clean) {
  return Client({.version = kV311, .client_id = id, .clean = clean});
}

std::vector<uint8_t> ConformanceTest::SubscribeReasons(RawClient& c, const std::vector<SubSpec>& subs,
                                                const Properties& props) {
  uint16_t id = c.NextId();
  c.Send(conformance::Subscribe(c.version(), id, subs, props));
  Bytes frame = c.Read();
  Packet p = Decode(c.version(), frame);
  EXPECT_TRUE(p.error.empty() && p.type == kSuback && p.flags == 0 && p.id == id)
      << "want SUBACK for id " << id << ", got [" << Hex(frame) << "] " << p.error;
  return p.reasons;
}

void ConformanceTest::SubscribeOk(RawClient& c, const std::string& filter, uint8_t qos,
                                  const Properties& props) {
  EXPECT_EQ(SubscribeReasons(c, {{.filter = filter, .qos = qos}}, props), std::vector<uint8_t>{qos})
      << "SUBSCRIBE " << filter;
}

// The next ack of `type` for `id` (other frames are kept for later reads).
static Bytes ReadAck(RawClient& c, PacketType type, uint16_t id) {
  return c.ReadWhere([&](const Packet& p) { return p.type == type && p.id == id; });
}

// A publisher's PUBACK/PUBREC: Success, or 0x10 No matching subscribers (5.0).
static ::testing::AssertionResult IsPublishAck(Version v, const Bytes& frame, PacketType type,
                                               uint16_t id) {
  if (v == kV5 && IsAck(v, frame, type, id, 0x10)) return ::testing::AssertionSuccess();
  return IsAck(v, frame, type, id);
}

void ConformanceTest::PublishOk(RawClient& c, PublishSpec spec) {
  if (spec.qos > 0 && spec.id == 0) spec.id = c.NextId();
  c.Send(Publish(c.version(), spec));
  if (spec.qos == 1) {
    EXPECT_TRUE(IsPublishAck(c.version(), ReadAck(c, kPuback, spec.id), kPuback, spec.id))
        << "PUBLISH " << spec.topic;
  } else if (spec.qos == 2) {
    EXPECT_TRUE(IsPublishAck(c.version(), ReadAck(c, kPubrec, spec.id), kPubrec, spec.id))
        << "PUBLISH " << spec.topic;
    c.Send(Ack(c.version(), kPubrel, spec.id));
    EXPECT_TRUE(IsAck(c.version(), ReadAck(c, kPubcomp, spec.id), kPubcomp, spec.id))
        << "PUBREL " << spec.topic;
  }
}

Packet ConformanceTest::Receive(RawClient& c, bool ack, Millis timeout) {
  Bytes frame = c.Read(timeout);
  Packet p = Decode(c.version(), frame);
  EXPECT_TRUE(p.error.empty() && p.type == kPublish)
      << "want PUBLISH, got [" << Hex(frame) << "] " << p.error;
  if (ack && p.qos == 1) c.Send(Ack(c.version(), kPuback, p.id));
  if (ack && p.qos == 2) {
    c.Send(Ack(c.version(), kPubrec, p.id));
    EXPECT_TRUE(IsAck(c.version(), ReadAck(c, kPubrel, p.id), kPubrel, p.id));
    c.Send(Ack(c.version(), kPubcomp, p.id));
  }
  return p;
}

std::vector<std::string> ConformanceTest::ReceivePayloads(RawClient& c, int n) {
  std::vector<std::string> payloads;
  for (int i = 0; i < n; ++i) {
    Packet p = Receive(c);
    if (p.type != kPublish) break;
    payloads.push_back(p.payload);
  }
  EXPECT_TRUE(c.ExpectSilent()) << "more than " << n << " messages arrived";
  return payloads;
}

void ConformanceTest::ExpectClose(RawClient& c, uint8_t reason) {
  EXPECT_TRUE(c.ExpectClosed()) << "the broker should close the connection";
  for (const Bytes& frame : c.skipped()) {
    if (c.v5()) {
      EXPECT_TRUE(IsDisconnect(frame, reason)) << "only a DISCONNECT may precede the close";
    } else {
      ADD_FAILURE() << "unexpected [" << Hex(frame) << "] before the close";
    }
  }
}

void ConformanceTest::ExpectDisconnect(RawClient& c, uint8_t reason) {
  if (c.v5()) {
    EXPECT_TRUE(IsDisconnect(c.Read(), reason));
  }
  EXPECT_TRUE(c.ExpectClosed()) << "the broker should close the connection";
}

std::optional<double> ScrapeMetric(uint16_t port, const std::string& name) {
  int fd = ConnectTcp(port);
  if (fd < 0) return std::nullopt;
  std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", response;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  for (auto deadline = Clock::now() + kTimeout; Clock::now() < deadline;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, MillisLeft(deadline)) <= 0) continue;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // HTTP/1.0: the body ends at the close
    response.append(buf, size_t(n));
  }
  close(fd);
  size_t at = response.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(response.c_str() + at + name.size() + 2, nullptr);
}

int ConnectTcp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace sluice::conformance
