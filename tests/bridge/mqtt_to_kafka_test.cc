// MQTT→Kafka end to end: records appended to the commit log → bridge → librdkafka's mock
// cluster (3 brokers on 127.0.0.1); read back with a plain Kafka consumer and with kcat.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_split.h"
#include "tests/bridge/bridge_fixture.h"

namespace sluice::bridge::testing {
namespace {

TEST_F(BridgeTest, EveryRecordPerKeyInOrderWithKeyAndHeaders) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  int n = Append(1000);
  StartBridge(Config());
  n += Append(1000);
  ASSERT_TRUE(WaitCaughtUp());
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n, kWaitMs);
  ASSERT_TRUE(records.ok()) << records.status();
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_EQ(c.duplicates, 0u);
  EXPECT_EQ(Sum(&WorkerStatus::delivered), static_cast<uint64_t>(n));
  EXPECT_EQ(Sum(&WorkerStatus::resent_after_ack), 0u);
  for (const WorkerStatus& w : bridge_->Status()) {
    EXPECT_EQ(w.lag, 0u);
    EXPECT_EQ(w.state, WorkerState::kRunning);
  }
}

TEST_F(BridgeTest, TopicTemplateFromLevels) {
  BridgeConfig config = Config("devices.{1}");  // level 1 (0-based) = the device id
  int n = Append(80, 2);                         // d0 and d1; topics are auto-created
  StartBridge(std::move(config));
  ASSERT_TRUE(WaitCaughtUp());
  size_t total = 0;
  for (const char* topic : {"devices.d0", "devices.d1"}) {
    auto records = ReadTopic(kafka_->bootstrap_servers(), topic, n / 2, kWaitMs);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), static_cast<size_t>(n / 2)) << topic;
    for (const auto& r : *records) EXPECT_EQ(r.key->substr(8, 2), std::string(topic).substr(8));
    total += records->size();
  }
  EXPECT_EQ(total, static_cast<size_t>(n));
}

// Pause: nothing more reaches Kafka and the checkpoint stays where the acknowledged records
// put it; resume: the rest arrives, every record once. Unknown rules are NotFound.
TEST_F(BridgeTest, PauseStopsProducingAndResumeDeliversTheRest) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  StartBridge(Config());
  int n = Append(300);
  ASSERT_TRUE(WaitCaughtUp());
  ASSERT_TRUE(bridge_->SetPaused("", true).ok());
  std::vector<Offset> checkpoints;
  for (const WorkerStatus& w : bridge_->Status()) {
    EXPECT_EQ(w.state, WorkerState::kPaused);
    checkpoints.push_back(w.checkpoint);
  }
  const uint64_t delivered = Sum(&WorkerStatus::delivered);
  int more = Append(200);
  // A paused worker wakes (idle_poll_ms 10) and reads nothing: well past many polls, nothing
  // was produced and the lag is the new records.
  EXPECT_FALSE(bridge_->WaitForStatus(
      [&](const std::vector<WorkerStatus>& s) {
        uint64_t produced = 0;
        for (const WorkerStatus& w : s) produced += w.produced;
        return produced > delivered;
      },
      1000));
  auto before = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n + 1, 1000);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->size(), static_cast<size_t>(n));
  uint64_t lag = 0;
  std::vector<WorkerStatus> paused = bridge_->Status();
  for (size_t i = 0; i < paused.size(); ++i) {
    EXPECT_EQ(paused[i].state, WorkerState::kPaused);
    EXPECT_EQ(paused[i].checkpoint, checkpoints[i]);
    lag += paused[i].lag;
  }
  EXPECT_GE(lag, static_cast<uint64_t>(more));

  EXPECT_EQ(bridge_->SetPaused("nope", true).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(bridge_->SetPaused("telemetry", false).ok());
  for (const WorkerStatus& w : bridge_->Status()) EXPECT_EQ(w.state, WorkerState::kRunning);
  n += more;
  ASSERT_TRUE(WaitCaughtUp());
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n, kWaitMs);
  ASSERT_TRUE(records.ok()) << records.status();
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_EQ(c.duplicates, 0u);
  // A stopped bridge cannot be paused.
  bridge_->Stop();
  EXPECT_EQ(bridge_->SetPaused("", true).code(), absl::StatusCode::kFailedPrecondition);
}

// Clean stop and restart from the same storage directory: resumes at the checkpoint, no record
// twice, none missing.
TEST_F(BridgeTest, RestartResumesFromCheckpoint) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  int n = Append(600);
  StartBridge(Config());
  ASSERT_TRUE(WaitCaughtUp());
  bridge_.reset();
  n += Append(400);  // while the bridge is down
  log_.reset();
  OpenLog();
  for (uint32_t p = 0; p < 4; ++p) {
    auto cursor = log_->GetCursor(PartitionId(p), "bridge:telemetry");
    ASSERT_TRUE(cursor.ok()) << cursor.status();
  }
  StartBridge(Config());
  n += Append(200);
  ASSERT_TRUE(WaitCaughtUp());
  auto records = ReadTopic(kafka_->bootstrap_servers(), "telemetry", n, kWaitMs);
  ASSERT_TRUE(records.ok());
  Check c = CheckRecords(*records);
  EXPECT_EQ(c.unique, static_cast<size_t>(n));
  EXPECT_EQ(c.duplicates, 0u);
}

// A new rule with start_from: latest skips what the log already holds.
TEST_F(BridgeTest, StartFromLatest) {
  Append(50);
  BridgeConfig config = Config("late");
  config.mqtt_to_kafka[0].start_from = StartFrom::kLatest;
  StartBridge(std::move(config));
  seq_.clear();
  int n = Append(40);
  ASSERT_TRUE(WaitCaughtUp());
  EXPECT_EQ(Sum(&WorkerStatus::produced), static_cast<uint64_t>(n));
  auto records = ReadTopic(kafka_->bootstrap_servers(), "late", n, kWaitMs);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(CheckRecords(*records).unique, static_cast<size_t>(n));  // seq from 0: only new ones
}

// Runs argv with a bounded wait; returns its stdout.
std::string RunBounded(std::vector<std::string> argv, int64_t timeout_ms, int* exit_code) {
  int out[2];
  if (pipe(out) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
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
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
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

// What the bridge wrote, read with kcat as a user would.
TEST_F(BridgeTest, KcatReadsWhatTheBridgeWrote) {
  ASSERT_TRUE(kafka_->CreateTopic("telemetry", 3).ok());
  int n = Append(300);
  StartBridge(Config());
  ASSERT_TRUE(WaitCaughtUp());
  int code = 0;
  std::string out = RunBounded({"/usr/bin/kcat", "-b", kafka_->bootstrap_servers(), "-C", "-t",
                                "telemetry", "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h\n"},
                               kWaitMs, &code);
  EXPECT_EQ(code, 0);
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(n)) << out.substr(0, 500);
  std::map<std::string, int> next;
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('|', 2));
    ASSERT_EQ(f.size(), 3u) << line;
    std::string device = f[0].substr(8, 2);
    EXPECT_EQ(f[1], device + ":" + std::to_string(next[device]++));  // per key in order
    EXPECT_NE(f[2].find("mqtt.topic=" + f[0]), std::string::npos) << f[2];
    EXPECT_NE(f[2].find("mqtt.qos=1"), std::string::npos) << f[2];
    EXPECT_NE(f[2].find("site=berlin"), std::string::npos) << f[2];
  }
}

}  // namespace
}  // namespace sluice::bridge::testing
