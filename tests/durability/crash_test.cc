// The durability proof (README "Durability", broker/server/durable.h): a real sluiced process
// takes QoS 1 and QoS 2 publishes from several clients and is killed with SIGKILL at random
// moments, many times, each time restarting on the same data directory. Afterwards a persistent
// subscriber that was offline during all the crashes must receive every message whose PUBACK
// (QoS 1) or PUBCOMP (QoS 2) its publisher got, in per-topic order, QoS 2 exactly once.
//
// Publishers (each on its own topics crash/<name>/<k>, payload "<name>:<topic>:<seq>"):
//   v5q1  MQTT 5,     QoS 1, persistent session
//   v3q1  MQTT 3.1.1, QoS 1, clean session (its unacknowledged messages are re-sent as new)
//   v5q2  MQTT 5,     QoS 2, persistent session
//   v3q2  MQTT 3.1.1, QoS 2, persistent session
// Each keeps a window of unacknowledged publishes in flight, so that the kills hit messages on
// their way to the log. After a restart they reconnect and do what MQTT requires (5.0 section
// 4.4, 3.1.1 section 4.4): a persistent session re-sends unacknowledged PUBLISHes with DUP=1 and
// the same packet identifier, and PUBREL for QoS 2 messages that got PUBREC.
//
// A seeded RNG (seed printed; SLUICE_CRASH_SEED to replay the choices) picks, per round, after
// how many acknowledgements or how many milliseconds the broker dies. SLUICE_CRASH_ROUNDS sets
// the number of rounds (default 8) for a soak. Timing still varies from run to run: a seed
// replays the kill schedule, not the exact interleaving.
//
// Every wait is bounded and event-driven (acknowledgements, the broker's ready line); the only
// timed waits are the kill deadlines chosen by the RNG and the final "nothing more arrives".
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/conformance/harness.h"

namespace sluice::durability {
namespace {

using conformance::Bytes;
using conformance::BrokerProcess;
using conformance::ConnectSpec;
using conformance::DescribeStatus;
using conformance::Packet;
using conformance::PacketType;
using conformance::Properties;
using conformance::PublishSpec;
using conformance::Version;
using conformance::kV311;
using conformance::kV5;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr int kTopicsPerPublisher = 4;
constexpr size_t kWindow = 32;             // unacknowledged publishes per publisher
constexpr uint32_t kSessionExpiry = 86400;  // s: outlives every run
constexpr Millis kConnackTimeout = 10s;
constexpr Millis kRoundCap = 6s;           // a round is killed by then whatever the RNG said
// New messages per round (all publishers): bounds a round's length (the offline subscriber's
// backlog stays in the log, not in the broker's memory).
constexpr int64_t kMaxNewPerRound = 4000;
constexpr Millis kStallLimit = 5s;         // pending publishes and no ack for this long: stall

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<Millis>(Clock::now() - t).count();
}

// One MQTT connection read without blocking: the test thread polls every connection at once.
// Sends block (the frames are small and the broker always reads).
class Wire {
 public:
  Wire(uint16_t port, Version v) : version_(v), fd_(conformance::ConnectTcp(port)) {}
  ~Wire() { Close(); }
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  int fd() const { return fd_; }
  Version version() const { return version_; }
  bool v5() const { return version_ == kV5; }
  // False once the peer closed (or the connection was refused); buffered frames stay readable.
  bool open() const { return fd_ >= 0 && !eof_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty() && open()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return bytes.empty();
  }

  // Call when poll() reported the fd readable: takes what the kernel has.
  void OnReadable() {
    char buf[65536];
    while (open()) {
      ssize_t got = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (got <= 0) {
        eof_ = true;
        return;
      }
      in_.append(buf, size_t(got));
      if (size_t(got) < sizeof buf) return;
    }
  }

  // The next whole frame received so far, decoded; nullopt if none is complete.
  std::optional<Packet> NextPacket() {
    if (in_.size() < 2) return std::nullopt;
    uint32_t len = 0;
    size_t i = 1;
    for (; i < in_.size() && i <= 4; ++i) {
      len |= uint32_t(uint8_t(in_[i]) & 0x7F) << (7 * (i - 1));
      if (!(uint8_t(in_[i]) & 0x80)) break;
    }
    if (i == 5) {  // malformed length from the broker: surface it as an undecodable packet
      Packet bad;
      bad.error = "remaining length longer than 4 bytes: " + conformance::Hex(in_.substr(0, 8));
      in_.clear();
      return bad;
    }
    if (i >= in_.size() || in_.size() < i + 1 + len) return std::nullopt;
    Bytes frame = in_.substr(0, i + 1 + len);
    in_.erase(0, frame.size());
    return conformance::Decode(version_, frame);
  }

  // Waits (bounded) for the first packet; nullopt on timeout or close.
  std::optional<Packet> WaitPacket(Millis timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      if (auto p = NextPacket()) return p;
      if (!open()) return std::nullopt;
      int left = int(std::max<int64_t>(0, std::chrono::duration_cast<Millis>(
                                               deadline - Clock::now()).count()));
      if (left == 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      int n = poll(&p, 1, left);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) OnReadable();
    }
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    eof_ = true;
  }

 private:
  Version version_;
  int fd_;
  bool eof_ = false;
  Bytes in_;
};

// Polls every open wire for up to `timeout` and lets each readable one take its bytes.
void PollWires(const std::vector<Wire*>& wires, Millis timeout) {
  std::vector<pollfd> fds;
  std::vector<Wire*> owners;
  for (Wire* w : wires) {
    if (w && w->open()) {
      fds.push_back({w->fd(), POLLIN, 0});
      owners.push_back(w);
    }
  }
  if (fds.empty()) return;
  int n;
  do n = poll(fds.data(), fds.size(), int(timeout.count()));
  while (n < 0 && errno == EINTR);
  for (size_t i = 0; n > 0 && i < fds.size(); ++i)
    if (fds[i].revents) owners[i]->OnReadable();
}

// What the test knows about one message it published.
struct Entry {
  uint8_t qos = 0;
  bool stored = false;    // PUBACK / PUBREC success: durable.h says it is in the log
  bool acked = false;     // PUBACK success (QoS 1) / PUBCOMP (QoS 2): must be delivered
  bool refused = false;   // PUBACK / PUBREC >= 0x80
  bool in_doubt = false;  // re-sent outside its session: exactly once is not promised
  int acked_round = -1;
  int delivered = 0;
};

struct Pending {
  int topic = 0;
  int seq = 0;
  uint16_t id = 0;
  bool pubrec = false;       // QoS 2: PUBREC success came, PUBREL sent
  bool resent = false;       // re-sent (PUBLISH with DUP or PUBREL) after a crash
};

struct Publisher {
  std::string name;
  Version version;
  uint8_t qos;
  bool persistent;
  std::vector<std::string> topics;
  std::vector<std::vector<Entry>> ledger;  // [topic][seq]
  std::deque<Pending> pending;             // unfinished, in send order
  uint16_t last_id = 0;
  size_t window = kWindow;
  std::unique_ptr<Wire> wire;

  std::string client_id() const { return "crash-" + name; }
  std::string Payload(int topic, int seq) const {
    return name + ":" + topics[topic] + ":" + std::to_string(seq);
  }
  uint16_t NextId() {
    while (true) {
      last_id = last_id == 65535 ? 1 : last_id + 1;
      bool used = false;
      for (const Pending& p : pending) used = used || p.id == last_id;
      if (!used) return last_id;
    }
  }
};

struct Counters {
  int64_t sent = 0;             // distinct messages
  int64_t publish_frames = 0;   // including re-sends
  int64_t acked = 0;
  int64_t refused = 0;
  int64_t pubcomp_not_found = 0;  // PUBCOMP 0x92 after a re-sent PUBREL (release was durable)
  int64_t resent_publish = 0;
  int64_t resent_pubrel = 0;
  int64_t session_lost = 0;     // a persistent publisher got session present = 0
  int64_t acks_after_kill = 0;  // read from the socket after the SIGKILL (sent before it)
  std::vector<std::string> anomalies;  // protocol surprises, reported as failures
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                "/crash-data";
    std::filesystem::remove_all(data_dir_);
    seed_ = uint64_t(EnvInt("SLUICE_CRASH_SEED", int64_t(std::random_device{}() & 0x7fffffff)));
    rounds_ = int(EnvInt("SLUICE_CRASH_ROUNDS", 8));
    rng_.seed(seed_);
    std::printf("crash_test: seed %llu (SLUICE_CRASH_SEED=%llu to replay), %d rounds\n",
                (unsigned long long)seed_, (unsigned long long)seed_, rounds_);
    std::fflush(stdout);
    auto add = [&](std::string name, Version v, uint8_t qos, bool persistent) {
      Publisher p{.name = name, .version = v, .qos = qos, .persistent = persistent};
      for (int k = 0; k < kTopicsPerPublisher; ++k)
        p.topics.push_back("crash/" + name + "/" + std::to_string(k));
      p.ledger.resize(kTopicsPerPublisher);
      pubs_.push_back(std::move(p));
    };
    add("v5q1", kV5, 1, true);
    add("v3q1", kV311, 1, false);
    add("v5q2", kV5, 2, true);
    add("v3q2", kV311, 2, true);
  }

  void TearDown() override {
    for (Publisher& p : pubs_) p.wire.reset();
    if (broker_) broker_->Stop(1000ms);
  }

  void StartBroker() {
    std::string error;
    bool unsupported = false;
    // Default settings (issue 13): the offline subscriber's backlog is read back from the log,
    // no queue limit applies to it.
    broker_ = BrokerProcess::Start({"--data-dir=" + data_dir_}, &error, &unsupported);
    ASSERT_TRUE(broker_) << "sluiced did not start on " << data_dir_ << ": " << error
                         << " (seed " << seed_ << ")";
  }

  ConnectSpec Spec(const std::string& client_id, Version v, bool clean) {
    ConnectSpec spec{.version = v, .client_id = client_id, .clean = clean};
    if (v == kV5) spec.props.Add(conformance::kSessionExpiry, kSessionExpiry);
    return spec;
  }

  // CONNECT and wait for CONNACK success. Returns the CONNACK (type 0 on failure).
  Packet Connect(Wire& w, const ConnectSpec& spec) {
    w.Send(conformance::Connect(spec));
    std::optional<Packet> p = w.WaitPacket(kConnackTimeout);
    if (!p || p->type != PacketType::kConnack || p->reason != 0 || !p->error.empty()) {
      ADD_FAILURE() << "no CONNACK success for " << spec.client_id << ": "
                    << (p ? "type " + std::to_string(p->type) + " reason " +
                                std::to_string(p->reason) + " " + p->error
                          : std::string("nothing within 10 s"))
                    << " (seed " << seed_ << ")";
      return Packet{};
    }
    return *p;
  }

  // Connects a publisher to the running broker and re-sends what it has unfinished.
  void Reconnect(Publisher& p, bool first) {
    p.wire = std::make_unique<Wire>(broker_->port(), p.version);
    // Persistent sessions connect with clean start 0 from the start (the directory is new).
    Packet ack = Connect(*p.wire, Spec(p.client_id(), p.version, /*clean=*/!p.persistent));
    if (ack.type != PacketType::kConnack) return;
    if (p.version == kV5)
      p.window = std::min<size_t>(kWindow, ack.props.Num(conformance::kReceiveMaximum).value_or(65535));
    bool have_session = p.persistent && !first && ack.session_present;
    if (p.persistent && !first && !ack.session_present) {
      ++counters_.session_lost;
      counters_.anomalies.push_back(p.name + ": persistent session lost (session present = 0) in round " +
                                    std::to_string(round_));
    }
    if (have_session) {
      // MQTT 5.0 4.4 / 3.1.1 4.4: re-send unacknowledged PUBLISH (DUP=1, same packet id) and
      // PUBREL, in the original order.
      for (Pending& m : p.pending) {
        m.resent = true;
        if (m.pubrec) {
          p.wire->Send(conformance::Ack(p.version, PacketType::kPubrel, m.id));
          ++counters_.resent_pubrel;
        } else {
          SendPublish(p, m, /*dup=*/true);
          ++counters_.resent_publish;
        }
      }
      return;
    }
    // No session (clean session, or lost): the client's session state is gone too. Messages
    // whose PUBREC came are stored but will never complete; the others are published again as
    // new messages (at least once; the ledger marks them so exactly once is not asserted).
    std::deque<Pending> old;
    old.swap(p.pending);
    for (Pending& m : old) {
      Entry& e = p.ledger[m.topic][m.seq];
      if (m.pubrec) {
        e.in_doubt = true;
        continue;
      }
      if (p.qos == 2) e.in_doubt = true;
      m.id = p.NextId();
      m.resent = true;
      p.pending.push_back(m);
      SendPublish(p, p.pending.back(), /*dup=*/false);
      ++counters_.resent_publish;
    }
  }

  void SendPublish(Publisher& p, const Pending& m, bool dup) {
    p.wire->Send(conformance::Publish(
        p.version, PublishSpec{.topic = p.topics[m.topic], .payload = p.Payload(m.topic, m.seq),
                               .qos = p.qos, .dup = dup, .id = m.id}));
    ++counters_.publish_frames;
  }

  // Publishes new messages until the window is full.
  void Fill(Publisher& p, int64_t* budget) {
    if (!p.wire || !p.wire->open()) return;
    while (p.pending.size() < p.window && *budget > 0) {
      --*budget;
      Pending m;
      m.topic = int(rng_() % kTopicsPerPublisher);
      m.seq = int(p.ledger[m.topic].size());
      m.id = p.NextId();
      p.ledger[m.topic].push_back(Entry{.qos = p.qos});
      p.pending.push_back(m);
      ++counters_.sent;
      SendPublish(p, m, /*dup=*/false);
      if (!p.wire->open()) return;
    }
  }

  void Anomaly(const Publisher& p, const std::string& what) {
    counters_.anomalies.push_back(p.name + " round " + std::to_string(round_) + ": " + what);
  }

  // Handles the acknowledgements a publisher received. Returns how many messages became
  // acknowledged.
  int Process(Publisher& p, bool after_kill) {
    int acked = 0;
    if (!p.wire) return 0;
    while (std::optional<Packet> pkt = p.wire->NextPacket()) {
      if (!pkt->error.empty()) {
        Anomaly(p, "undecodable packet: " + pkt->error);
        continue;
      }
      if (pkt->type == PacketType::kDisconnect) {
        Anomaly(p, "DISCONNECT reason " + std::to_string(pkt->reason));
        continue;
      }
      auto it = std::find_if(p.pending.begin(), p.pending.end(),
                             [&](const Pending& m) { return m.id == pkt->id; });
      if (pkt->type != PacketType::kPuback && pkt->type != PacketType::kPubrec &&
          pkt->type != PacketType::kPubcomp) {
        Anomaly(p, "unexpected packet type " + std::to_string(pkt->type));
        continue;
      }
      if (it == p.pending.end()) {
        Anomaly(p, "ack type " + std::to_string(pkt->type) + " for unknown packet id " +
                       std::to_string(pkt->id));
        continue;
      }
      Entry& e = p.ledger[it->topic][it->seq];
      bool done = false;
      if (pkt->type == PacketType::kPuback && p.qos == 1) {
        if (pkt->reason >= 0x80) {
          e.refused = true;
          ++counters_.refused;
        } else {
          e.stored = e.acked = true;
        }
        done = true;
      } else if (pkt->type == PacketType::kPubrec && p.qos == 2 && !it->pubrec) {
        if (pkt->reason >= 0x80) {
          e.refused = true;
          ++counters_.refused;
          done = true;
        } else {
          e.stored = true;
          it->pubrec = true;
          if (!after_kill) p.wire->Send(conformance::Ack(p.version, PacketType::kPubrel, it->id));
        }
      } else if (pkt->type == PacketType::kPubcomp && p.qos == 2 && it->pubrec) {
        if (pkt->reason == 0x92) {
          // Packet identifier not found: legitimate only for a PUBREL re-sent after a crash
          // whose release had become durable before it (the PUBCOMP was lost with the broker).
          if (!it->resent) Anomaly(p, "PUBCOMP 0x92 for a PUBREL sent once");
          ++counters_.pubcomp_not_found;
        } else if (pkt->reason != 0) {
          Anomaly(p, "PUBCOMP reason " + std::to_string(pkt->reason));
        }
        e.acked = true;
        done = true;
      } else {
        Anomaly(p, "ack type " + std::to_string(pkt->type) + " out of sequence for id " +
                       std::to_string(pkt->id));
        continue;
      }
      if (e.acked && done) {
        e.acked_round = round_;
        ++acked;
        ++counters_.acked;
        if (after_kill) ++counters_.acks_after_kill;
      }
      if (done) p.pending.erase(it);
    }
    return acked;
  }

  std::vector<Wire*> PublisherWires() {
    std::vector<Wire*> w;
    for (Publisher& p : pubs_) w.push_back(p.wire.get());
    return w;
  }

  size_t PendingTotal() const {
    size_t n = 0;
    for (const Publisher& p : pubs_) n += p.pending.size();
    return n;
  }

  // SIGKILL, then take the acknowledgements that were already on their way (the kernel had
  // them before the process died), then reap.
  void Kill() {
    if (auto status = broker_->Exited()) {
      ADD_FAILURE() << "sluiced died on its own in round " << round_ << ": "
                    << DescribeStatus(*status) << " (seed " << seed_ << ")";
    } else {
      ASSERT_EQ(::kill(broker_->pid(), SIGKILL), 0);
    }
    auto deadline = Clock::now() + 2s;
    while (Clock::now() < deadline) {
      bool any_open = false;
      for (Publisher& p : pubs_) any_open = any_open || (p.wire && p.wire->open());
      if (!any_open) break;
      PollWires(PublisherWires(), 50ms);
      for (Publisher& p : pubs_) Process(p, /*after_kill=*/true);
    }
    for (Publisher& p : pubs_) {
      Process(p, /*after_kill=*/true);
      p.wire.reset();
    }
    int status = broker_->Stop(1000ms);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round_ << ": " << DescribeStatus(status) << " (seed " << seed_ << ")";
    broker_.reset();
  }

  std::string data_dir_;
  uint64_t seed_ = 0;
  int rounds_ = 8;
  int round_ = 0;
  std::mt19937_64 rng_;
  std::vector<Publisher> pubs_;
  std::unique_ptr<BrokerProcess> broker_;
  Counters counters_;
};

TEST_F(CrashTest, AcknowledgedMessagesSurviveRepeatedKill9) {
  const auto t0 = Clock::now();
  const std::string sub_id = "crash-subscriber";

  // Setup on a fresh data directory: the persistent subscriber subscribes and goes offline;
  // the persistent publishers create their sessions. Then a clean stop, so that every session
  // is on disk before the first crash.
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  {
    Wire sub(broker_->port(), kV5);
    ASSERT_EQ(Connect(sub, Spec(sub_id, kV5, /*clean=*/true)).type, PacketType::kConnack);
    sub.Send(conformance::Subscribe(kV5, 1, {{.filter = "crash/#", .qos = 2}}));
    std::optional<Packet> suback = sub.WaitPacket(conformance::kTimeout);
    ASSERT_TRUE(suback && suback->type == PacketType::kSuback &&
                suback->reasons == std::vector<uint8_t>{2})
        << "SUBSCRIBE crash/# QoS 2 not granted";
    sub.Send(conformance::Disconnect(kV5));
  }
  for (Publisher& p : pubs_) {
    Reconnect(p, /*first=*/true);
    ASSERT_TRUE(p.wire && p.wire->open()) << p.name;
    p.wire->Send(conformance::Disconnect(p.version));
    p.wire.reset();
  }
  {
    int status = broker_->Stop();
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeStatus(status);
    broker_.reset();
  }

  // The crash rounds.
  for (round_ = 1; round_ <= rounds_ && !HasFatalFailure(); ++round_) {
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    const auto ready = Clock::now();
    for (Publisher& p : pubs_) Reconnect(p, /*first=*/false);
    const size_t resent = PendingTotal();
    // The kill moment: after N acknowledgements in this round, or T ms after the broker was
    // ready (0 = while the reconnected publishers re-send).
    // Acks: few (the restart itself), some, or many (a longer log between crashes).
    const bool by_acks = rng_() % 5 < 3;
    int64_t kill_acks = -1;
    if (by_acks) {
      switch (rng_() % 3) {
        case 0: kill_acks = int64_t(rng_() % 20); break;
        case 1: kill_acks = 20 + int64_t(rng_() % 300); break;
        default: kill_acks = 300 + int64_t(rng_() % 1200); break;
      }
    }
    const int64_t kill_ms = by_acks ? -1 : int64_t(rng_() % 300);
    int64_t round_acks = 0;
    int64_t budget = kMaxNewPerRound;
    auto last_progress = Clock::now();
    bool stalled = false;
    std::string why;  // what ended the round
    while (true) {
      for (Publisher& p : pubs_) Fill(p, &budget);
      if (by_acks && round_acks >= kill_acks) {
        why = "after " + std::to_string(kill_acks) + " acks";
        break;
      }
      if (!by_acks && MsSince(ready) >= kill_ms) {
        why = "at " + std::to_string(kill_ms) + " ms";
        break;
      }
      if (budget == 0 && PendingTotal() == 0) {
        why = "when the round's " + std::to_string(kMaxNewPerRound) + " messages were acked";
        break;
      }
      if (MsSince(ready) >= kRoundCap.count()) {
        why = "at the round cap";
        break;
      }
      if (MsSince(last_progress) >= kStallLimit.count()) {
        why = "after a stall";
        stalled = true;
        break;
      }
      if (broker_->Exited()) {
        why = "(already dead)";
        break;
      }
      int64_t wait = 20;
      if (!by_acks) wait = std::clamp<int64_t>(kill_ms - MsSince(ready), 0, 20);
      PollWires(PublisherWires(), Millis(wait));
      for (Publisher& p : pubs_) {
        int n = Process(p, /*after_kill=*/false);
        round_acks += n;
        if (n > 0) last_progress = Clock::now();
        if (p.wire && !p.wire->open() && !broker_->Exited()) {
          Anomaly(p, "connection closed by the live broker");
          p.wire.reset();
        }
      }
    }
    const size_t in_flight = PendingTotal();
    const int64_t alive_ms = MsSince(ready);
    ASSERT_NO_FATAL_FAILURE(Kill());
    std::printf("round %d: kill %s, %lld ms after ready, %lld acks this round (+%lld read "
                "after the kill so far), %zu re-sent at reconnect, %zu in flight at the kill\n",
                round_, why.c_str(),
                (long long)alive_ms, (long long)round_acks,
                (long long)counters_.acks_after_kill, resent, in_flight);
    std::fflush(stdout);
    EXPECT_FALSE(stalled) << "round " << round_ << ": no acknowledgement for "
                          << kStallLimit.count() << " ms with " << in_flight
                          << " publishes pending (seed " << seed_ << ")";
  }
  round_ = rounds_ + 1;

  // Recovery: the broker starts once more; the publishers finish what they had in flight
  // (no new messages) and disconnect.
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  for (Publisher& p : pubs_) Reconnect(p, /*first=*/false);
  {
    auto deadline = Clock::now() + 30s;
    while (PendingTotal() > 0 && Clock::now() < deadline && !broker_->Exited()) {
      PollWires(PublisherWires(), 50ms);
      for (Publisher& p : pubs_) Process(p, /*after_kill=*/false);
    }
    EXPECT_EQ(PendingTotal(), 0u) << "publishes still unacknowledged 30 s after the last restart";
    for (Publisher& p : pubs_) {
      if (p.wire) p.wire->Send(conformance::Disconnect(p.version));
      p.wire.reset();
    }
  }

  // The subscriber comes back and reads everything.
  std::map<std::string, std::vector<int>> order;  // topic -> seqs in arrival order
  int64_t deliveries = 0, dup_flagged = 0, unknown = 0, wrong_qos = 0;
  int64_t must_arrive = 0;
  for (const Publisher& p : pubs_)
    for (const auto& t : p.ledger)
      for (const Entry& e : t) must_arrive += e.acked || e.stored;
  std::map<std::string, Publisher*> by_name;
  for (Publisher& p : pubs_) by_name[p.name] = &p;
  std::vector<std::string> strange;
  {
    Wire sub(broker_->port(), kV5);
    Packet connack = Connect(sub, Spec(sub_id, kV5, /*clean=*/false));
    ASSERT_EQ(connack.type, PacketType::kConnack);
    EXPECT_TRUE(connack.session_present) << "the subscriber's session was lost (seed " << seed_ << ")";
    int64_t arrived_needed = 0;
    auto last = Clock::now();
    const auto drain_deadline = Clock::now() + 60s + Millis(must_arrive / 10);
    while (Clock::now() < drain_deadline) {
      Millis quiet = arrived_needed >= must_arrive ? 1000ms : 10000ms;
      if (Clock::now() - last >= quiet || !sub.open()) break;
      PollWires({&sub}, 50ms);
      Bytes acks;
      while (std::optional<Packet> pkt = sub.NextPacket()) {
        last = Clock::now();
        if (!pkt->error.empty() || (pkt->type != PacketType::kPublish &&
                                    pkt->type != PacketType::kPubrel)) {
          strange.push_back("subscriber got type " + std::to_string(pkt->type) + " " + pkt->error);
          continue;
        }
        if (pkt->type == PacketType::kPubrel) {
          acks += conformance::Ack(kV5, PacketType::kPubcomp, pkt->id);
          continue;
        }
        if (pkt->qos == 1) acks += conformance::Ack(kV5, PacketType::kPuback, pkt->id);
        if (pkt->qos == 2) acks += conformance::Ack(kV5, PacketType::kPubrec, pkt->id);
        ++deliveries;
        dup_flagged += pkt->dup;
        // "<name>:<topic>:<seq>"
        std::string payload(pkt->payload.begin(), pkt->payload.end());
        size_t a = payload.find(':'), b = payload.rfind(':');
        auto it = a == std::string::npos ? by_name.end() : by_name.find(payload.substr(0, a));
        int topic = -1, seq = -1;
        if (it != by_name.end() && b > a) {
          std::string topic_name = payload.substr(a + 1, b - a - 1);
          const auto& topics = it->second->topics;
          auto t = std::find(topics.begin(), topics.end(), topic_name);
          if (t != topics.end() && topic_name == pkt->topic) {
            topic = int(t - topics.begin());
            seq = std::atoi(payload.c_str() + b + 1);
          }
        }
        if (topic < 0 || seq < 0 || seq >= int(it->second->ledger[topic].size())) {
          ++unknown;
          strange.push_back("unknown message '" + payload + "' on " + pkt->topic);
          continue;
        }
        Entry& e = it->second->ledger[topic][seq];
        if (pkt->qos != e.qos) ++wrong_qos;
        if (e.delivered++ == 0) {
          order[pkt->topic].push_back(seq);
          if (e.acked || e.stored) ++arrived_needed;
        }
      }
      if (!acks.empty()) sub.Send(acks);
    }
    sub.Send(conformance::Disconnect(kV5));
  }
  {
    int status = broker_->Stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "SIGTERM after the run: " << DescribeStatus(status);
    broker_.reset();
  }

  // The verdict.
  int64_t acked = 0, stored_only = 0, lost_acked = 0, lost_stored = 0, lost_unacked = 0;
  int64_t delivered_unacked = 0, q1_dups = 0, q2_dups = 0, q2_dups_in_doubt = 0, refused = 0;
  std::vector<std::string> lost, doubled;
  for (const Publisher& p : pubs_) {
    for (int t = 0; t < kTopicsPerPublisher; ++t) {
      for (int s = 0; s < int(p.ledger[t].size()); ++s) {
        const Entry& e = p.ledger[t][s];
        std::string what = p.Payload(t, s);
        acked += e.acked;
        stored_only += e.stored && !e.acked;
        refused += e.refused;
        if (e.delivered == 0) {
          if (e.acked) {
            ++lost_acked;
            lost.push_back(what + " (acknowledged in round " + std::to_string(e.acked_round) + ")");
          } else if (e.stored) {
            ++lost_stored;
            lost.push_back(what + " (PUBREC success, no PUBCOMP)");
          } else {
            ++lost_unacked;
          }
        }
        if (e.delivered > 0 && !e.acked) ++delivered_unacked;
        if (e.delivered > 1 && e.qos == 1) q1_dups += e.delivered - 1;
        if (e.delivered > 1 && e.qos == 2) {
          if (e.in_doubt) {
            q2_dups_in_doubt += e.delivered - 1;
          } else {
            q2_dups += e.delivered - 1;
            doubled.push_back(what + " x" + std::to_string(e.delivered));
          }
        }
      }
    }
  }
  std::vector<std::string> disorder;
  for (const auto& [topic, seqs] : order)
    for (size_t i = 1; i < seqs.size(); ++i)
      if (seqs[i] <= seqs[i - 1])
        disorder.push_back(topic + ": seq " + std::to_string(seqs[i]) + " after " +
                           std::to_string(seqs[i - 1]));

  std::printf(
      "crash_test summary (seed %llu): %d rounds in %.1f s\n"
      "  published %lld messages (%lld PUBLISH frames, %lld re-sent, %lld PUBREL re-sent)\n"
      "  acknowledged %lld (%lld read after a kill), PUBREC without PUBCOMP %lld, refused %lld,"
      " PUBCOMP 0x92 %lld\n"
      "  delivered %lld PUBLISH frames (%lld with DUP), unacknowledged but delivered %lld,"
      " unacknowledged and not delivered %lld\n"
      "  QoS 1 duplicates %lld, QoS 2 duplicates %lld (+%lld re-sent outside a session)\n"
      "  LOST acknowledged %lld, LOST after PUBREC %lld, out of order %zu, unknown %lld,"
      " wrong QoS %lld, sessions lost %lld\n",
      (unsigned long long)seed_, rounds_, MsSince(t0) / 1000.0,
      (long long)counters_.sent, (long long)counters_.publish_frames,
      (long long)counters_.resent_publish, (long long)counters_.resent_pubrel, (long long)acked,
      (long long)counters_.acks_after_kill, (long long)stored_only, (long long)refused,
      (long long)counters_.pubcomp_not_found, (long long)deliveries, (long long)dup_flagged,
      (long long)delivered_unacked, (long long)lost_unacked, (long long)q1_dups,
      (long long)q2_dups, (long long)q2_dups_in_doubt, (long long)lost_acked,
      (long long)lost_stored, disorder.size(), (long long)unknown, (long long)wrong_qos,
      (long long)counters_.session_lost);
  std::fflush(stdout);

  auto first = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 20; ++i) s += "\n  " + v[i];
    if (v.size() > 20) s += "\n  ... " + std::to_string(v.size() - 20) + " more";
    return s;
  };
  EXPECT_GT(acked, 0) << "nothing was acknowledged";
  EXPECT_EQ(lost_acked + lost_stored, 0)
      << "acknowledged (or PUBREC'd) messages never delivered (seed " << seed_ << "):" << first(lost);
  EXPECT_EQ(q2_dups, 0) << "QoS 2 messages delivered more than once (seed " << seed_ << "):"
                        << first(doubled);
  EXPECT_TRUE(disorder.empty()) << "per-topic order broken (seed " << seed_ << "):"
                                << first(disorder);
  EXPECT_EQ(unknown, 0) << first(strange);
  EXPECT_EQ(wrong_qos, 0) << "delivered with another QoS than published (subscription QoS 2)";
  EXPECT_TRUE(strange.empty()) << first(strange);
  EXPECT_TRUE(counters_.anomalies.empty())
      << "protocol anomalies (seed " << seed_ << "):" << first(counters_.anomalies);
}

}  // namespace
}  // namespace sluice::durability
