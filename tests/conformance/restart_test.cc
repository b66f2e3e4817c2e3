// State across a clean restart (SIGTERM, then start on the same data directory): persistent
// sessions keep their subscriptions, queued and unacknowledged messages; retained messages
// stay. A damaged state file stops the broker from starting rather than being ignored.
#include <filesystem>
#include <fstream>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

class RestartTest : public ConformanceTest {
 protected:
  void SetUp() override {
    if (UnderMosquitto()) GTEST_SKIP() << "Sluice's state file";
    data_dir_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
                "/restart-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(data_dir_);
  }
  void Restart() {
    if (broker_) {
      int status = broker_->Stop();
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeStatus(status);
      broker_.reset();
    }
    StartBroker({"--data-dir=" + data_dir_});
  }
  std::string StateFile() const { return data_dir_ + "/state.snapshot"; }
  std::string data_dir_;
};

TEST_F(RestartTest, QueuedMessagesAndRetainedSurviveACleanRestart) {
  Restart();
  {
    auto sub = Client311("keeper", /*clean=*/false);
    SubscribeOk(*sub, "r/#", 1);
    sub->Send(Disconnect(kV311));
    EXPECT_TRUE(sub->ExpectClosed());
  }
  {
    auto pub = Client5("pub");
    for (const char* m : {"one", "two", "three"}) PublishOk(*pub, {.topic = "r/q", .payload = m, .qos = 1});
    PublishOk(*pub, {.topic = "kept/t", .payload = "retained", .qos = 1, .retain = true});
  }
  Restart();
  EXPECT_FALSE(std::filesystem::exists(StateFile()))
      << "a loaded state file must not survive to be replayed after a crash";
  auto sub = Open(kV311);
  sub->Send(Connect({.version = kV311, .client_id = "keeper", .clean = false}));
  EXPECT_EQ(Hex(sub->Read()), "20 02 01 00") << "session present after restart";
  EXPECT_EQ(ReceivePayloads(*sub, 3), (std::vector<std::string>{"one", "two", "three"}));
  auto fresh = Client5("fresh");
  SubscribeOk(*fresh, "kept/#", 1);
  Packet p = Receive(*fresh);
  EXPECT_EQ(p.topic, "kept/t");
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(std::string(p.payload.begin(), p.payload.end()), "retained");
}

TEST_F(RestartTest, UnacknowledgedMessageIsResentWithDupAfterRestart) {
  Restart();
  uint16_t first_id = 0;
  {
    auto sub = Client5("slow", Properties().Add(kSessionExpiry, 600), /*clean=*/false);
    SubscribeOk(*sub, "u/t", 2);
    auto pub = Client5("pub");
    PublishOk(*pub, {.topic = "u/t", .payload = "pending", .qos = 2});
    Packet p = Receive(*sub, /*ack=*/false);
    ASSERT_EQ(p.qos, 2);
    first_id = p.id;
    // No PUBREC: the message stays in flight while the broker stops.
  }
  Restart();
  auto sub = Client5("slow", Properties().Add(kSessionExpiry, 600), /*clean=*/false);
  EXPECT_TRUE(sub->connack.session_present);
  Packet again = Receive(*sub, /*ack=*/true);
  EXPECT_EQ(again.id, first_id);
  EXPECT_TRUE(again.dup);
  EXPECT_EQ(std::string(again.payload.begin(), again.payload.end()), "pending");
}

TEST_F(RestartTest, DamagedStateFileRefusesToStart) {
  Restart();
  {
    auto sub = Client311("keeper", false);
    SubscribeOk(*sub, "d/#", 1);
  }
  ASSERT_EQ(WEXITSTATUS(broker_->Stop()), 0);
  broker_.reset();
  ASSERT_TRUE(std::filesystem::exists(StateFile()));
  {
    std::fstream f(StateFile(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  std::string error;
  bool unsupported = false;
  auto broken = BrokerProcess::Start({"--data-dir=" + data_dir_}, &error, &unsupported);
  EXPECT_EQ(broken, nullptr) << "a damaged state file must not be ignored";
  EXPECT_TRUE(std::filesystem::exists(StateFile())) << "and must be left for the operator";
}

}  // namespace
}  // namespace sluice::conformance
