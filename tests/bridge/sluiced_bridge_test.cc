// The Kafka bridge run by the real sluiced binary (broker/bridge_host.h), black box: librdkafka's
// mock cluster (3 brokers on 127.0.0.1, hosted by this test process) is the Kafka that sluiced's
// config file points at; MQTT clients are the conformance harness's raw clients over TCP; Kafka
// is read back with a plain consumer and with kcat; the bridge's status with sluicectl and
// /metrics.
//
// Every wait is bounded and on a condition (PUBACKs, records arriving in Kafka, the admin API's
// status); the only loops re-check a condition until a deadline.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "bridge/testing/mock_kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/harness.h"

namespace sluice::bridge::testing {
namespace {

using conformance::Bytes;
using conformance::ConformanceTest;
using conformance::Decode;
using conformance::kPuback;
using conformance::kV5;
using conformance::Packet;
using conformance::Properties;
using conformance::PublishSpec;
using conformance::RawClient;
using ::testing::HasSubstr;
using ::testing::Not;
using SteadyClock = std::chrono::steady_clock;

constexpr int64_t kKafkaWaitMs = 30'000;

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

int64_t MsLeft(SteadyClock::time_point deadline) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count());
}

// Runs argv (stdout and stderr captured together), killing it after timeout_ms.
std::string RunBounded(std::vector<std::string> argv, int64_t timeout_ms, int* exit_code) {
  int out[2];
  if (pipe(out) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(out[0]);
    close(out[1]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int64_t left = MsLeft(deadline);
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    ssize_t got = read(out[0], buf, sizeof(buf));
    if (got <= 0) break;
    text.append(buf, got);
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return text;
}

// GET http://127.0.0.1:port/path; the body ("" on failure). Bounded by 10 s.
std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = conformance::ConnectTcp(port);
  if (fd < 0) return "";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (MsLeft(deadline) > 0) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(MsLeft(deadline))) <= 0) break;
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, n);
  }
  close(fd);
  size_t body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

// Sum of every sample of `name` (any labels) in a Prometheus text exposition.
double SumMetric(const std::string& text, const std::string& name) {
  double sum = 0;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    sum += std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return sum;
}

std::optional<std::string> FindKcat() {
  for (const std::string& dir :
       std::vector<std::string>(absl::StrSplit(Env("PATH", "/usr/bin:/bin"), ':'))) {
    std::string p = dir + "/kcat";
    if (!dir.empty() && access(p.c_str(), X_OK) == 0) return p;
  }
  if (access("/usr/bin/kcat", X_OK) == 0) return "/usr/bin/kcat";
  return std::nullopt;
}

// ---- Publishing with a window of QoS 1 messages --------------------------------------------

// Device k lives at site north (even k) or south (odd k): MQTT topic sites/<site>/d<k>/telemetry
// → Kafka topic site.<site> (template "site.{1}"), key = the MQTT topic. Client pub-<c> publishes
// for devices 2c and 2c+1 alternately, payload "d<k>:<seq>" (seq per device), plus one
// non-bridged message on other/<c> every 10.
std::string Site(int device) { return device % 2 == 0 ? "north" : "south"; }
std::string DeviceTopic(int device) {
  return "sites/" + Site(device) + "/d" + std::to_string(device) + "/telemetry";
}

struct Sent {
  std::string topic;
  std::string payload;
};

// Acknowledgements counted across publisher threads; the test thread waits on it.
class Progress {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  bool WaitFor(int n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }
  int Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

class Publisher {
 public:
  Publisher(std::unique_ptr<RawClient> client, int c, size_t window)
      : client_(std::move(client)), c_(c), window_(window) {}

  // Publishes `n` more device messages (continuing the sequence numbers); stops early when the
  // connection goes away. False if it did.
  bool Publish(int n, Progress* progress = nullptr) {
    for (int i = 0; i < n; ++i) {
      int device = 2 * c_ + (count_ % 2);
      std::string payload = "d" + std::to_string(device) + ":" + std::to_string(seq_[device]++);
      if (!Send({DeviceTopic(device), payload}, progress)) return false;
      if (count_++ % 10 == 0 && !Send({"other/" + std::to_string(c_), "not bridged"}, progress))
        return false;
    }
    return Drain(progress);
  }

  // Acknowledged device messages (success PUBACK), in acknowledgement order.
  const std::vector<Sent>& acked() const { return acked_; }
  std::string id() const { return "pub-" + std::to_string(c_); }

 private:
  bool Send(Sent s, Progress* progress) {
    PublishSpec spec;
    spec.topic = s.topic;
    spec.payload = s.payload;
    spec.qos = 1;
    spec.id = client_->NextId();
    spec.props.Add(conformance::kContentType, "text/plain").AddUser("run", "e2e");
    if (!client_->Send(conformance::Publish(kV5, spec))) return false;
    inflight_[spec.id] = std::move(s);
    while (inflight_.size() >= window_)
      if (!ReadAck(progress)) return false;
    return true;
  }
  bool Drain(Progress* progress) {
    while (!inflight_.empty())
      if (!ReadAck(progress)) return false;
    return true;
  }
  bool ReadAck(Progress* progress) {
    Bytes frame = client_->Read();
    if (frame.empty()) return false;
    Packet p = Decode(kV5, frame);
    if (p.type != kPuback) return true;  // nothing else is expected; ignore
    auto it = inflight_.find(p.id);
    if (it == inflight_.end()) return true;
    // 0x00 success, 0x10 no matching subscribers: both mean stored.
    if ((p.reason == 0 || p.reason == 0x10) && it->second.topic.rfind("sites/", 0) == 0) {
      acked_.push_back(it->second);
      if (progress) progress->Add();
    }
    inflight_.erase(it);
    return true;
  }

  std::unique_ptr<RawClient> client_;
  int c_;
  size_t window_;
  int count_ = 0;
  std::map<int, int> seq_;  // device → next seq
  std::map<uint16_t, Sent> inflight_;
  std::vector<Sent> acked_;
};

// ---- Fixture ---------------------------------------------------------------------------------

class SluicedBridgeTest : public ConformanceTest {
 protected:
  void SetUp() override {
    auto k = MockKafka::Start(3);
    ASSERT_TRUE(k.ok()) << k.status();
    kafka_ = *std::move(k);
    static int counter = 0;
    dir_ = Env("TEST_TMPDIR", "/tmp") + "/sluiced-bridge-" + std::to_string(getpid()) + "-" +
           std::to_string(counter++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ + "/data");
  }
  void TearDown() override {
    ConformanceTest::TearDown();  // SIGTERM must stop sluiced (and its bridge) cleanly
    broker_.reset();
    kafka_.reset();
  }

  // Writes sluiced's config file: a few broker settings and `bridge_section` (YAML under
  // `bridge:`, indented by two spaces), with bootstrap_servers pointing at the mock cluster.
  std::string WriteConfig(const std::string& bridge_rules, const std::string& limits = "") {
    std::string path = dir_ + "/sluiced.yaml";
    std::ofstream(path) << "log_level: info\n"
                           "log_partitions: 4\n"
                           "bridge:\n"
                           "  kafka:\n"
                           "    bootstrap_servers: \"" << kafka_->bootstrap_servers() << "\"\n"
                           "    properties: {linger.ms: \"5\"}\n"
                           "  limits: {commit_interval_ms: 100, idle_poll_ms: 50,"
                           " backoff_ms_min: 50, backoff_ms_max: 500"
                        << limits << "}\n" << bridge_rules;
    return path;
  }
  static std::string TelemetryRule() {
    return "  mqtt_to_kafka:\n"
           "    - name: telemetry\n"
           "      filters: [\"sites/+/+/telemetry\"]\n"
           "      kafka_topic: \"site.{1}\"\n"
           "      key: topic\n";
  }
  void StartSluiced(const std::string& config) {
    START_BROKER({"--config=" + config, "--data-dir=" + dir_ + "/data"});
  }

  std::vector<std::unique_ptr<Publisher>> Publishers(int n, size_t window = 16) {
    std::vector<std::unique_ptr<Publisher>> out;
    for (int c = 0; c < n; ++c)
      out.push_back(std::make_unique<Publisher>(Client5("pub-" + std::to_string(c)), c, window));
    return out;
  }

  std::string Ctl(std::vector<std::string> args) {
    int code = 0;
    std::string out = CtlCode(std::move(args), &code);
    EXPECT_EQ(code, 0) << out;
    return out;
  }
  // sluicectl's output (stdout and stderr) and exit code.
  std::string CtlCode(std::vector<std::string> args, int* code) {
    std::vector<std::string> argv = {Env("SLUICECTL", "tools/sluicectl/sluicectl"), "--server",
                                     "127.0.0.1:" + std::to_string(broker_->admin_port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunBounded(argv, 20'000, code);
  }

  struct Check {
    size_t unique = 0, duplicates = 0;
  };
  // Reads every Kafka topic the acknowledged messages map to until each of them is there (or
  // the deadline), then checks topic mapping, key, headers and per-key order (after dropping
  // duplicates, recognised by their sluice.partition/sluice.offset headers).
  Check ReadAndCheck(const std::vector<Sent>& acked, const std::map<std::string, std::string>& publisher_of) {
    std::map<std::string, std::set<std::string>> want;  // Kafka topic → payloads
    for (const Sent& s : acked) {
      std::vector<std::string> levels = absl::StrSplit(s.topic, '/');
      want["site." + levels[1]].insert(s.payload);
    }
    Check c;
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(kKafkaWaitMs);
    for (const auto& [topic, payloads] : want) {
      size_t count = payloads.size();
      std::vector<ConsumedRecord> records;
      while (true) {
        auto r = ReadTopic(kafka_->bootstrap_servers(), topic, count, std::max<int64_t>(MsLeft(deadline), 1));
        EXPECT_TRUE(r.ok()) << r.status();
        if (!r.ok()) return c;
        records = *std::move(r);
        size_t missing = payloads.size();
        std::set<std::string> seen;
        for (const ConsumedRecord& rec : records)
          if (payloads.count(rec.value) && seen.insert(rec.value).second) --missing;
        if (missing == 0 || MsLeft(deadline) == 0) break;
        count = records.size() + missing;  // duplicates only add: at least this many more
      }
      std::set<std::pair<std::string, std::string>> places;  // (sluice.partition, sluice.offset)
      std::map<std::string, int> last_seq;                    // key → last seq seen
      std::set<std::string> found;
      for (const ConsumedRecord& r : records) {
        std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
        if (!h.count("sluice.partition") || !h.count("sluice.offset")) {
          ADD_FAILURE() << "no sluice.partition/offset headers: " << r.value;
          continue;
        }
        if (!places.insert({h["sluice.partition"], h["sluice.offset"]}).second) {
          ++c.duplicates;
          continue;
        }
        ++c.unique;
        if (!r.key.has_value()) {
          ADD_FAILURE() << "no key: " << r.value;
          continue;
        }
        const std::string& key = *r.key;
        std::vector<std::string> levels = absl::StrSplit(key, '/');
        if (levels.size() != 4u) {
          ADD_FAILURE() << "unexpected key " << key;
          continue;
        }
        EXPECT_EQ("site." + levels[1], topic) << "topic mapping of " << key;
        EXPECT_EQ(h["mqtt.topic"], key);
        EXPECT_EQ(h["mqtt.qos"], "1");
        EXPECT_EQ(h["mqtt.retain"], "false");
        EXPECT_EQ(h["mqtt.publisher"], publisher_of.at(levels[2])) << key;
        EXPECT_EQ(h["mqtt.content_type"], "text/plain");
        EXPECT_EQ(h["run"], "e2e");
        // Payload "d<k>:<seq>": same device as the key, seq increasing per key.
        std::vector<std::string> p = absl::StrSplit(r.value, ':');
        if (p.size() != 2u) {
          ADD_FAILURE() << "unexpected payload " << r.value;
          continue;
        }
        EXPECT_EQ(p[0], levels[2]);
        int seq = std::atoi(p[1].c_str());
        auto last = last_seq.find(key);
        EXPECT_TRUE(last == last_seq.end() || seq > last->second)
            << "key " << key << ": seq " << seq << " after " << last->second;
        last_seq[key] = seq;
        found.insert(r.value);
      }
      for (const std::string& payload : payloads)
        EXPECT_TRUE(found.count(payload)) << "acknowledged " << payload << " missing in " << topic;
    }
    return c;
  }

  static std::map<std::string, std::string> PublisherOf(int clients) {
    std::map<std::string, std::string> out;
    for (int d = 0; d < 2 * clients; ++d) out["d" + std::to_string(d)] = "pub-" + std::to_string(d / 2);
    return out;
  }

  // Until the admin API reports the bridge caught up (lag 0, running) or 15 s passed.
  std::string WaitBridgeCaughtUp() {
    std::string out;
    auto deadline = SteadyClock::now() + std::chrono::seconds(15);
    do {
      out = Ctl({"bridge", "status", "-o", "json"});
      bool lag0 = out.find("\"lag_messages\": \"0\"") != std::string::npos ||
                  out.find("\"lag_messages\": 0") != std::string::npos;
      if (lag0 && out.find("\"state\": \"running\"") != std::string::npos) break;
    } while (MsLeft(deadline) > 0);
    return out;
  }

  std::unique_ptr<MockKafka> kafka_;
  std::string dir_;
};

// QoS 1 messages from three MQTT 5 clients → sluiced (log) → bridge → Kafka: every acknowledged
// message once, on the mapped topic, key = MQTT topic, headers, per-key order; the status in
// sluicectl and /metrics; a config file reload with a `bridge:` section.
TEST_F(SluicedBridgeTest, AcknowledgedMessagesReachKafka) {
  ASSERT_TRUE(kafka_->CreateTopic("site.north", 3).ok());
  ASSERT_TRUE(kafka_->CreateTopic("site.south", 3).ok());
  StartSluiced(WriteConfig(TelemetryRule()));
  auto pubs = Publishers(3);
  std::vector<Sent> acked;
  for (auto& p : pubs) {
    ASSERT_TRUE(p->Publish(200)) << p->id() << " lost its connection";
    acked.insert(acked.end(), p->acked().begin(), p->acked().end());
  }
  ASSERT_EQ(acked.size(), 600u);
  Check c = ReadAndCheck(acked, PublisherOf(3));
  EXPECT_EQ(c.unique, acked.size());
  EXPECT_EQ(c.duplicates, 0u);

  std::string json = WaitBridgeCaughtUp();
  EXPECT_THAT(json, HasSubstr("\"lag_messages\": \"0\""));
  EXPECT_THAT(json, HasSubstr("\"rule\": \"telemetry\""));
  std::string table = Ctl({"bridge", "status"});
  EXPECT_THAT(table, HasSubstr("STATE   running"));
  EXPECT_THAT(table, HasSubstr("MQTT -> Kafka"));
  EXPECT_THAT(table, HasSubstr("CHECKPOINT"));
  std::cout << table;

  std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_delivered_total"), 600.0) << metrics.substr(0, 2000);
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_lag_records"), 0.0);
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_delivery_failures_total"), 0.0);
  EXPECT_THAT(metrics, HasSubstr("sluice_bridge_lag_records{rule=\"telemetry\",partition=\"0\"}"));

  // Re-reading the file (admin API) accepts the bridge section and changes nothing.
  EXPECT_THAT(Ctl({"config", "reload"}), HasSubstr("configuration reloaded"));
}

// `sluicectl bridge pause`: records acknowledged while paused stay in the log (nothing reaches
// Kafka, the lag grows, the checkpoint stays); `resume` delivers all of them, each once. Per
// rule with --rule; an unknown rule is NOT_FOUND (exit 1), the broker unchanged.
TEST_F(SluicedBridgeTest, PauseAndResumeLoseNothing) {
  ASSERT_TRUE(kafka_->CreateTopic("site.north", 3).ok());
  ASSERT_TRUE(kafka_->CreateTopic("site.south", 3).ok());
  StartSluiced(WriteConfig(TelemetryRule()));
  auto pubs = Publishers(1);
  ASSERT_TRUE(pubs[0]->Publish(50));
  std::vector<Sent> first = pubs[0]->acked();
  ASSERT_EQ(first.size(), 50u);
  WaitBridgeCaughtUp();
  Check c = ReadAndCheck(first, PublisherOf(1));
  EXPECT_EQ(c.unique, 50u);

  std::string out = Ctl({"bridge", "pause"});
  EXPECT_THAT(out, HasSubstr("every rule paused"));
  EXPECT_THAT(out, HasSubstr("STATE   paused"));
  EXPECT_THAT(out, HasSubstr("telemetry  0          paused"));
  std::string json = Ctl({"bridge", "status", "-o", "json"});
  EXPECT_THAT(json, HasSubstr("\"state\": \"paused\""));
  EXPECT_THAT(json, HasSubstr("\"paused_rules\": ["));
  EXPECT_THAT(json.substr(json.find("\"paused_rules\"")), HasSubstr("\"telemetry\""));
  EXPECT_THAT(json, Not(HasSubstr("\"state\": \"running\"")));
  std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_worker_paused"), 4.0);  // 4 log partitions
  const double checkpoints = SumMetric(metrics, "sluice_bridge_checkpoint_offset");

  // 100 more messages while paused: acknowledged (stored), not bridged.
  ASSERT_TRUE(pubs[0]->Publish(100));
  std::vector<Sent> all = pubs[0]->acked();
  ASSERT_EQ(all.size(), 150u);
  size_t in_kafka = 0;
  for (const char* topic : {"site.north", "site.south"}) {
    // More than the 25 of each topic bridged before the pause, or what is there after 1.5 s.
    auto r = ReadTopic(kafka_->bootstrap_servers(), topic, 26, 1500);
    ASSERT_TRUE(r.ok()) << r.status();
    in_kafka += r->size();
  }
  EXPECT_EQ(in_kafka, 50u) << "records reached Kafka while the bridge was paused";
  metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_GE(SumMetric(metrics, "sluice_bridge_lag_records"), 100.0);
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_checkpoint_offset"), checkpoints);
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_delivered_total"), 50.0);

  // Bad input changes nothing.
  int code = 0;
  out = CtlCode({"bridge", "resume", "--rule", "nope"}, &code);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("no bridge rule named 'nope' (rules: telemetry) (NOT_FOUND)"));
  out = CtlCode({"bridge", "resume", "telemetry"}, &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(Ctl({"bridge", "status"}), HasSubstr("STATE   paused"));

  out = Ctl({"bridge", "resume", "--rule", "telemetry"});
  EXPECT_THAT(out, HasSubstr("rule 'telemetry' resumed"));
  EXPECT_THAT(out, HasSubstr("STATE   running"));
  c = ReadAndCheck(all, PublisherOf(1));
  EXPECT_EQ(c.unique, 150u);
  EXPECT_EQ(c.duplicates, 0u);
  json = WaitBridgeCaughtUp();
  EXPECT_THAT(json, HasSubstr("\"lag_messages\": \"0\""));
  EXPECT_THAT(json, Not(HasSubstr("\"paused\"")));
  EXPECT_THAT(json, HasSubstr("\"paused_rules\": []"));
  metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_worker_paused"), 0.0);
  EXPECT_EQ(SumMetric(metrics, "sluice_bridge_delivered_total"), 150.0);

  // One rule by name, in JSON.
  json = Ctl({"bridge", "pause", "--rule=telemetry", "-o", "json"});
  EXPECT_THAT(json, HasSubstr("\"state\": \"paused\""));
  json = Ctl({"bridge", "resume", "-o", "json"});
  EXPECT_THAT(json, HasSubstr("\"state\": \"running\""));
}

// kcat (the tool users check Kafka with) reads what sluiced bridged.
TEST_F(SluicedBridgeTest, KcatReadsWhatSluicedBridged) {
  std::optional<std::string> kcat = FindKcat();
  if (!kcat) GTEST_SKIP() << "kcat is not installed (apt-get install kcat): kcat check skipped";
  ASSERT_TRUE(kafka_->CreateTopic("site.north", 3).ok());
  ASSERT_TRUE(kafka_->CreateTopic("site.south", 3).ok());
  StartSluiced(WriteConfig(TelemetryRule()));
  auto pubs = Publishers(1);
  ASSERT_TRUE(pubs[0]->Publish(100));
  ASSERT_EQ(pubs[0]->acked().size(), 100u);
  std::map<std::string, int> next;  // key → next seq
  size_t lines_total = 0;
  for (const std::string topic : {"site.north", "site.south"}) {
    // Until kcat sees the 50 records of the topic (it exits at the end of the partitions).
    std::vector<std::string> lines;
    auto deadline = SteadyClock::now() + std::chrono::milliseconds(kKafkaWaitMs);
    do {
      int code = 0;
      std::string out = RunBounded({*kcat, "-b", kafka_->bootstrap_servers(), "-C", "-t", topic,
                                    "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h\n"},
                                   20'000, &code);
      EXPECT_EQ(code, 0) << out;
      lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
    } while (lines.size() < 50 && MsLeft(deadline) > 0);
    ASSERT_EQ(lines.size(), 50u);
    for (const std::string& line : lines) {
      std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('|', 2));
      ASSERT_EQ(f.size(), 3u) << line;
      std::vector<std::string> levels = absl::StrSplit(f[0], '/');
      ASSERT_EQ(levels.size(), 4u) << line;
      EXPECT_EQ("site." + levels[1], topic);
      EXPECT_EQ(f[1], levels[2] + ":" + std::to_string(next[f[0]]++)) << "per-key order: " << line;
      EXPECT_THAT(f[2], HasSubstr("mqtt.topic=" + f[0]));
      EXPECT_THAT(f[2], HasSubstr("mqtt.publisher=pub-0"));
      EXPECT_THAT(f[2], HasSubstr("sluice.offset="));
      ++lines_total;
    }
  }
  EXPECT_EQ(lines_total, 100u);
}

// sluiced SIGKILLed while three clients publish, restarted on the same data directory: every
// message it acknowledged is in Kafka (duplicates allowed: counted and printed).
TEST_F(SluicedBridgeTest, SigkillMidStreamLosesNoAcknowledgedMessage) {
  ASSERT_TRUE(kafka_->CreateTopic("site.north", 3).ok());
  ASSERT_TRUE(kafka_->CreateTopic("site.south", 3).ok());
  // Checkpoints rarely: records Kafka acknowledged before the kill are likely produced again.
  std::string config = WriteConfig(TelemetryRule(), ", commit_interval_ms: 2000");
  StartSluiced(config);
  // Warm-up (client pub-6, devices d12 and d13): the bridge's producer is connected before the
  // stream starts, so the kill below lands while records flow into Kafka.
  Publisher warm(Client5("pub-6"), 6, 16);
  ASSERT_TRUE(warm.Publish(10));
  double delivered = 0;
  auto deadline = SteadyClock::now() + std::chrono::seconds(15);
  while (delivered < 10 && MsLeft(deadline) > 0)  // bounded re-check
    delivered = SumMetric(HttpGet(broker_->metrics_port(), "/metrics"), "sluice_bridge_delivered_total");
  ASSERT_GE(delivered, 10) << "the bridge did not deliver the warm-up messages";
  auto pubs = Publishers(3);
  Progress progress;
  std::vector<std::thread> threads;
  std::vector<int> finished(pubs.size(), 0);
  for (size_t i = 0; i < pubs.size(); ++i)  // each runs until the connection dies (or 5000)
    threads.emplace_back([&, i] { finished[i] = pubs[i]->Publish(5000, &progress); });
  // Kill once 600 messages are acknowledged and the bridge has delivered some of them to Kafka
  // (not yet checkpointed: commit_interval_ms is 2 s), with the publishers still going.
  bool reached = progress.WaitFor(600, std::chrono::seconds(20));
  deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (reached && delivered < 310 && MsLeft(deadline) > 0)  // bounded re-check
    delivered = SumMetric(HttpGet(broker_->metrics_port(), "/metrics"), "sluice_bridge_delivered_total");
  ASSERT_EQ(kill(broker_->pid(), SIGKILL), 0);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(reached) << "publishing too slow: " << progress.Count() << " acknowledged in 20 s";
  EXPECT_GE(delivered, 310) << "the bridge delivered too little before the kill";
  int status = broker_->Stop();  // reaps
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << conformance::DescribeStatus(status);
  for (size_t i = 0; i < pubs.size(); ++i)
    EXPECT_FALSE(finished[i]) << "publisher " << i << " finished before the kill";
  std::vector<Sent> acked = warm.acked();
  for (auto& p : pubs) acked.insert(acked.end(), p->acked().begin(), p->acked().end());
  size_t before_kill = acked.size();

  // Same data dir, same config: the bridge resumes from its checkpoints. Then more messages,
  // from other clients (devices d6..d11), after the restart.
  StartSluiced(config);
  std::vector<std::unique_ptr<Publisher>> late;
  for (int c = 3; c < 6; ++c)
    late.push_back(std::make_unique<Publisher>(Client5("pub-" + std::to_string(c)), c, 16));
  for (auto& p : late) {
    ASSERT_TRUE(p->Publish(50));
    acked.insert(acked.end(), p->acked().begin(), p->acked().end());
  }
  Check c = ReadAndCheck(acked, PublisherOf(7));
  std::cout << "SIGKILL test: " << before_kill << " messages acknowledged before the kill, "
            << acked.size() - before_kill << " after the restart; " << delivered
            << " delivered to Kafka before the kill; in Kafka " << c.unique
            << " distinct records (" << c.unique - std::min(c.unique, acked.size())
            << " stored but unacknowledged), " << c.duplicates << " duplicates\n";
  EXPECT_GE(c.unique, acked.size());
}

// Kafka → sluiced → MQTT subscriber: records produced to Kafka arrive on the mapped MQTT topic
// with QoS, content type and user properties, per key in order. They go through the broker's
// log like any QoS 1 publish: an MQTT→Kafka rule on the same topics sends them back to Kafka.
TEST_F(SluicedBridgeTest, KafkaToMqttRoundTrip) {
  ASSERT_TRUE(kafka_->CreateTopic("commands", 3).ok());
  ASSERT_TRUE(kafka_->CreateTopic("echo", 1).ok());
  StartSluiced(WriteConfig("  kafka_to_mqtt:\n"
                           "    - name: commands\n"
                           "      kafka_topics: [commands]\n"
                           "      mqtt_topic: \"cmd/{key}\"\n"
                           "      qos: 1\n"
                           "      start_from: earliest\n"
                           "  mqtt_to_kafka:\n"
                           "    - name: echo\n"
                           "      filters: [\"cmd/#\"]\n"
                           "      kafka_topic: echo\n"
                           "      key: topic\n"));
  auto sub = Client5("sub");
  SubscribeOk(*sub, "cmd/#", 1);
  constexpr int kRecords = 60, kKeys = 4;
  std::vector<KafkaRecord> records;
  for (int i = 0; i < kRecords; ++i) {
    KafkaRecord r;
    r.topic = "commands";
    r.key = "k" + std::to_string(i % kKeys);
    r.value = *r.key + ":" + std::to_string(i / kKeys);
    r.headers = {{"mqtt.content_type", "application/x-cmd"}, {"trace", "t" + std::to_string(i)}};
    records.push_back(std::move(r));
  }
  ASSERT_TRUE(ProduceRecords(kafka_->bootstrap_servers(), records).ok());

  std::map<std::string, int> next;  // key → next seq
  for (int i = 0; i < kRecords; ++i) {
    // The first waits for the consumer group to form.
    Packet p = Receive(*sub, true, i == 0 ? std::chrono::milliseconds(kKafkaWaitMs) : conformance::kTimeout);
    ASSERT_EQ(p.type, conformance::kPublish) << "after " << i << " messages";
    std::string key = p.topic.substr(4);
    EXPECT_EQ(p.topic, "cmd/" + key);
    EXPECT_EQ(p.qos, 1);
    EXPECT_EQ(p.payload, key + ":" + std::to_string(next[key]++)) << "per-key order";
    EXPECT_EQ(p.props.Str(conformance::kContentType).value_or(""), "application/x-cmd");
    auto user = p.props.UserProperties();
    ASSERT_EQ(user.size(), 1u);
    EXPECT_EQ(user[0].first, "trace");
  }
  EXPECT_TRUE(sub->ExpectSilent()) << "a record arrived twice";

  // Through the log: the echo rule bridged every one of them back to Kafka.
  auto echo = ReadTopic(kafka_->bootstrap_servers(), "echo", kRecords, kKafkaWaitMs);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->size(), static_cast<size_t>(kRecords));
  // The consumer counts a record as published once the broker stored it (bounded re-check: the
  // counter may trail the subscriber by a moment).
  std::string json;
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  do {
    json = Ctl({"bridge", "status", "-o", "json"});
  } while (json.find("\"published\": \"60\"") == std::string::npos && MsLeft(deadline) > 0);
  EXPECT_THAT(json, HasSubstr("\"rule\": \"commands\""));
  EXPECT_THAT(json, HasSubstr("\"published\": \"60\""));
  EXPECT_THAT(json, HasSubstr("\"publish_failures\": \"0\""));
}

// A bad `bridge:` section: sluiced refuses to start, exit code 2, the key path in the message.
TEST_F(SluicedBridgeTest, BadBridgeConfigIsAClearStartupError) {
  std::string path = dir_ + "/bad.yaml";
  std::ofstream(path) << "log_level: info\n"
                         "bridge:\n"
                         "  kafka: {bootstrap_servers: \"127.0.0.1:1\"}\n"
                         "  mqtt_to_kafka:\n"
                         "    - name: t\n"
                         "      filters: [\"a/#\"]\n"
                         "      kafka_topic: t\n"
                         "      key: sometimes\n";
  int code = 0;
  std::string out = RunBounded({Env("SLUICED", "broker/sluiced"), "--config", path, "--listen",
                                "127.0.0.1:0", "--data-dir", dir_ + "/data"},
                               20'000, &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("bad.yaml: bridge.mqtt_to_kafka[0].key: key must be one of"));

  // The broker's own settings are still checked as before.
  std::ofstream(path) << "no_such_setting: 1\nbridge: {}\n";
  out = RunBounded({Env("SLUICED", "broker/sluiced"), "--config", path, "--data-dir", dir_ + "/data"},
                   20'000, &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("unknown setting 'no_such_setting'"));
}

}  // namespace
}  // namespace sluice::bridge::testing
