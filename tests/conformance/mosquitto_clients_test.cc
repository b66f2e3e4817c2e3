// Interoperability with real clients: Debian's mosquitto_sub / mosquitto_pub against the broker,
// MQTT 3.1.1 and 5.0, QoS 0/1/2 and retained messages. Each subscriber runs with -d so that we
// can see its SUBACK before publishing (no sleeps), -C to exit after N messages and -W as a
// bound; -F prints "MSG|topic|payload|qos|retain" lines we can tell apart from debug lines.
#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

struct Case {
  const char* version;  // mosquitto_sub -V
  int qos;
};

class MosquittoClientsTest : public ConformanceTest,
                             public ::testing::WithParamInterface<Case> {
 protected:
  std::string Sub() { return std::getenv("MOSQUITTO_SUB") ? std::getenv("MOSQUITTO_SUB") : "/usr/bin/mosquitto_sub"; }
  std::string Pub() { return std::getenv("MOSQUITTO_PUB") ? std::getenv("MOSQUITTO_PUB") : "/usr/bin/mosquitto_pub"; }

  // Starts mosquitto_sub and waits (bounded) until it has its SUBACK.
  std::unique_ptr<ChildProcess> StartSub(const std::string& version, const std::string& topic,
                                         int qos, int count) {
    std::string error;
    auto sub = ChildProcess::Spawn(
        // stdbuf: line-buffered stdout, so the SUBACK debug line reaches us before exit.
        {.argv = {"/usr/bin/stdbuf", "-oL", Sub(), "-h", "127.0.0.1", "-p", std::to_string(port()), "-V", version, "-t",
                  topic, "-q", std::to_string(qos), "-C", std::to_string(count), "-W", "5", "-d",
                  "-F", "MSG|%t|%p|%q|%r"},
         .capture_stdout = true},
        &error);
    EXPECT_TRUE(sub) << error;
    if (!sub) return nullptr;
    while (auto line = sub->ReadLine(kTimeout)) {
      if (line->find("SUBACK") != std::string::npos) return sub;
    }
    ADD_FAILURE() << "mosquitto_sub did not report a SUBACK";
    return sub;
  }

  // Runs mosquitto_pub to completion (bounded) and expects exit status 0.
  void RunPub(const std::string& version, const std::string& topic, const std::string& message,
              int qos, bool retain) {
    std::vector<std::string> argv = {Pub(), "-h", "127.0.0.1", "-p", std::to_string(port()),
                                      "-V", version, "-t", topic, "-q", std::to_string(qos)};
    if (message.empty()) argv.push_back("-n");
    else argv.insert(argv.end(), {"-m", message});
    if (retain) argv.push_back("-r");
    std::string error;
    auto pub = ChildProcess::Spawn({.argv = argv}, &error);
    ASSERT_TRUE(pub) << error;
    auto status = pub->Wait(kTimeout);
    ASSERT_TRUE(status.has_value()) << "mosquitto_pub did not finish";
    EXPECT_EQ(DescribeStatus(*status), "exited with 0");
  }

  // The subscriber's message lines until it exits (it exits after -C messages or -W seconds).
  std::vector<std::string> Messages(ChildProcess& sub) {
    std::vector<std::string> out;
    while (auto line = sub.ReadLine(Millis(7000))) {
      if (line->rfind("MSG|", 0) == 0) out.push_back(*line);
    }
    auto status = sub.Wait(kTimeout);
    EXPECT_TRUE(status && DescribeStatus(*status) == "exited with 0")
        << "mosquitto_sub " << (status ? DescribeStatus(*status) : "still running");
    return out;
  }
};

TEST_P(MosquittoClientsTest, PublishAndSubscribe) {
  const Case& c = GetParam();
  auto sub = StartSub(c.version, "mc/t", c.qos, 2);
  ASSERT_TRUE(sub);
  RunPub(c.version, "mc/t", "first", c.qos, false);
  RunPub(c.version, "mc/t", "second", c.qos, false);
  std::string q = std::to_string(c.qos);
  EXPECT_EQ(Messages(*sub),
            (std::vector<std::string>{"MSG|mc/t|first|" + q + "|0", "MSG|mc/t|second|" + q + "|0"}));
}

TEST_P(MosquittoClientsTest, RetainedMessage) {
  const Case& c = GetParam();
  RunPub(c.version, "mc/r", "kept", c.qos, true);
  auto sub = StartSub(c.version, "mc/r", c.qos, 1);
  ASSERT_TRUE(sub);
  EXPECT_EQ(Messages(*sub),
            (std::vector<std::string>{"MSG|mc/r|kept|" + std::to_string(c.qos) + "|1"}));
  RunPub(c.version, "mc/r", "", c.qos, true);  // delete it
  auto again = StartSub(c.version, "mc/#", 0, 1);
  ASSERT_TRUE(again);
  RunPub(c.version, "mc/after", "live", 0, false);
  EXPECT_EQ(Messages(*again), std::vector<std::string>{"MSG|mc/after|live|0|0"})
      << "the deleted retained message must not come back";
}

INSTANTIATE_TEST_SUITE_P(
    All, MosquittoClientsTest,
    ::testing::Values(Case{"mqttv311", 0}, Case{"mqttv311", 1}, Case{"mqttv311", 2},
                      Case{"mqttv5", 0}, Case{"mqttv5", 1}, Case{"mqttv5", 2}),
    [](const auto& info) {
      return std::string(info.param.version) + "_qos" + std::to_string(info.param.qos);
    });

}  // namespace
}  // namespace sluice::conformance
