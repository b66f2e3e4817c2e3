// Replay from the commit log: SUBSCRIBE with the MQTT 5 user property `sluice-replay`
// (README "Replay"). Sluice-only: mosquitto has no log.
#include <filesystem>
#include <string>
#include <vector>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

class ReplayTest : public ConformanceTest {
 protected:
  void SetUp() override {
    if (UnderMosquitto()) GTEST_SKIP() << "Sluice's commit log";
    // One partition: offsets are then easy to reason about in a test.
    data_dir_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                "/replay-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(data_dir_);
  }
  void Start() { StartBroker({"--data-dir=" + data_dir_, "--log-partitions=1"}); }
  void PublishSome(const std::string& topic, int n, const std::string& prefix) {
    auto pub = Client5("pub-" + prefix);
    for (int i = 0; i < n; ++i)
      PublishOk(*pub, {.topic = topic, .payload = prefix + std::to_string(i), .qos = 1});
  }
  // SUBSCRIBE with `replay`; returns the SUBACK reason codes.
  std::vector<uint8_t> SubscribeReplay(RawClient& c, const std::string& filter,
                                       const std::string& replay) {
    return SubscribeReasons(c, {{.filter = filter, .qos = 1}},
                            Properties().AddUser("sluice-replay", replay));
  }
  static std::string OffsetOf(const Packet& p) {
    for (const auto& [k, v] : p.props.UserProperties())
      if (k == "sluice-offset") return v;
    return "";
  }
  std::string data_dir_;
};

TEST_F(ReplayTest, EarliestDeliversStoredMessagesInOrderWithOffsets) {
  Start();
  PublishSome("replay/a", 3, "a");
  PublishSome("other/b", 2, "b");
  auto sub = Client5("reader");
  EXPECT_EQ(SubscribeReplay(*sub, "replay/#", "earliest"), std::vector<uint8_t>{1});
  for (int i = 0; i < 3; ++i) {
    Packet p = Receive(*sub);
    EXPECT_EQ(p.topic, "replay/a");
    EXPECT_EQ(p.payload, "a" + std::to_string(i));
    EXPECT_EQ(OffsetOf(p), "0:" + std::to_string(i)) << "partition:offset of the record";
  }
  EXPECT_TRUE(sub->ExpectSilent(std::chrono::milliseconds(300))) << "only matching records";
  // Then live messages follow on the same subscription.
  PublishSome("replay/a", 1, "live");
  Packet live = Receive(*sub);
  EXPECT_EQ(live.payload, "live0");
}

TEST_F(ReplayTest, FromAnOffsetAndFromATime) {
  Start();
  PublishSome("t/x", 5, "m");
  auto sub = Client5("reader");
  EXPECT_EQ(SubscribeReplay(*sub, "t/x", "offset:0:3"), std::vector<uint8_t>{1});
  EXPECT_EQ(ReceivePayloads(*sub, 2), (std::vector<std::string>{"m3", "m4"}));
  auto by_time = Client5("reader2");
  EXPECT_EQ(SubscribeReplay(*by_time, "t/x", "time:0"), std::vector<uint8_t>{1});
  EXPECT_EQ(ReceivePayloads(*by_time, 5),
            (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  auto future = Client5("reader3");
  EXPECT_EQ(SubscribeReplay(*future, "t/x", "time:99999999999999"), std::vector<uint8_t>{1});
  EXPECT_TRUE(future->ExpectSilent(std::chrono::milliseconds(300)));
  auto latest = Client5("reader4");
  EXPECT_EQ(SubscribeReplay(*latest, "t/x", "latest"), std::vector<uint8_t>{1});
  EXPECT_TRUE(latest->ExpectSilent(std::chrono::milliseconds(300)));
}

TEST_F(ReplayTest, ReplaySurvivesRestartAndBadValuesAreRefused) {
  Start();
  PublishSome("k/y", 2, "k");
  ASSERT_EQ(WEXITSTATUS(broker_->Stop()), 0);
  broker_.reset();
  Start();
  auto sub = Client5("reader");
  EXPECT_EQ(SubscribeReplay(*sub, "k/y", "earliest"), std::vector<uint8_t>{1});
  EXPECT_EQ(ReceivePayloads(*sub, 2), (std::vector<std::string>{"k0", "k1"}));
  auto bad = Client5("bad");
  EXPECT_EQ(SubscribeReplay(*bad, "k/y", "yesterday"), std::vector<uint8_t>{0x83});
  EXPECT_EQ(SubscribeReplay(*bad, "k/y", "offset:0"), std::vector<uint8_t>{0x83});
}

}  // namespace
}  // namespace sluice::conformance
