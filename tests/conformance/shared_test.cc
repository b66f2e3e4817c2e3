// Shared subscriptions: spec 5.0 section 4.8.2.
#include <chrono>
#include <cstdlib>
#include <set>

#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

class SharedTest : public ConformanceTest {
 protected:
  // Publishes n QoS 1 messages "0".."n-1" to `topic`.
  void PublishN(const std::string& topic, int n) {
    auto pub = Client5("pub");
    for (int i = 0; i < n; ++i)
      PublishOk(*pub, {.topic = topic, .payload = std::to_string(i), .qos = 1});
  }
  // Drains every message that arrives at `c` until a silence window passes.
  std::vector<std::string> Drain(RawClient& c) {
    std::vector<std::string> got;
    while (true) {
      Bytes frame = c.Read(kSilence);
      if (frame.empty()) return got;
      Packet p = Decode(c.version(), frame);
      EXPECT_EQ(p.type, kPublish) << Hex(frame);
      if (p.qos == 1) c.Send(Ack(kV5, kPuback, p.id));
      got.push_back(p.payload);
    }
  }
};

TEST_F(SharedTest, EachMessageGoesToExactlyOneMember) {
  auto a = Client5("a");
  auto b = Client5("b");
  SubscribeOk(*a, "$share/g/sh/t", 1);
  SubscribeOk(*b, "$share/g/sh/t", 1);
  PublishN("sh/t", 20);
  std::vector<std::string> got_a = Drain(*a), got_b = Drain(*b);
  std::multiset<std::string> all(got_a.begin(), got_a.end());
  all.insert(got_b.begin(), got_b.end());
  EXPECT_EQ(all.size(), 20u) << "a got " << got_a.size() << ", b got " << got_b.size();
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 20u) << "no duplicates";
}

TEST_F(SharedTest, EveryMemberReceivesSome) {
  std::vector<std::unique_ptr<RawClient>> members;
  for (const char* id : {"m1", "m2", "m3"}) {
    members.push_back(Client5(id));
    SubscribeOk(*members.back(), "$share/grp/load", 0);
  }
  PublishN("load", 30);
  size_t total = 0;
  for (auto& m : members) {
    size_t n = Drain(*m).size();
    EXPECT_GE(n, 1u) << "a member got nothing";
    total += n;
  }
  EXPECT_EQ(total, 30u);
}

TEST_F(SharedTest, RandomStrategyDeliversEachToOneMemberAndReachesAll) {
  // shared_subscription_strategy: random. The broker's generator is seeded inside (a fixed
  // seed per shard, not a setting), so the test does not rely on the seed; its assertions hold
  // for any uniform choice except with negligible probability:
  //  - a member gets none of 200 messages: 3 * (2/3)^200, about 2e-35;
  //  - the recipients repeat with period 3 (what round robin does, and the check that the
  //    strategy is really in force): (1/3)^197, about 1e-94.
  SKIP_UNDER_MOSQUITTO("round robin only");
  START_BROKER({"--shared-subscription-strategy=random"});
  constexpr int kMessages = 200;
  std::vector<std::unique_ptr<RawClient>> members;
  for (const char* id : {"r1", "r2", "r3"}) {
    members.push_back(Client5(id));
    SubscribeOk(*members.back(), "$share/rnd/rand/t", 1);
  }
  PublishN("rand/t", kMessages);
  // recipient[i]: which member got message i (-1: none yet). Bounded poll over the members.
  std::vector<int> recipient(kMessages, -1), count(members.size(), 0);
  int received = 0;
  for (auto deadline = std::chrono::steady_clock::now() + kTimeout;
       received < kMessages && std::chrono::steady_clock::now() < deadline;) {
    for (size_t m = 0; m < members.size(); ++m) {
      Bytes frame = members[m]->Read(10ms);
      if (frame.empty()) continue;
      Packet p = Decode(kV5, frame);
      ASSERT_EQ(p.type, kPublish) << Hex(frame);
      members[m]->Send(Ack(kV5, kPuback, p.id));
      int i = std::atoi(p.payload.c_str());
      ASSERT_TRUE(i >= 0 && i < kMessages) << p.payload;
      EXPECT_EQ(recipient[size_t(i)], -1) << "message " << i << " delivered twice";
      recipient[size_t(i)] = int(m);
      ++count[m];
      ++received;
    }
  }
  ASSERT_EQ(received, kMessages);
  for (auto& m : members) EXPECT_TRUE(m->ExpectSilent()) << "more than one copy of a message";
  for (size_t m = 0; m < members.size(); ++m)
    EXPECT_GE(count[m], 1) << "member " << m << " got nothing";
  bool periodic = true;
  for (int i = 0; i + 3 < kMessages; ++i) periodic = periodic && recipient[size_t(i)] == recipient[size_t(i) + 3];
  EXPECT_FALSE(periodic) << "recipients cycle like round robin: the random strategy is not used";
}

TEST_F(SharedTest, NonSharedSubscriberStillGetsEverything) {
  auto a = Client5("a");
  auto b = Client5("b");
  auto plain = Client5("plain");
  SubscribeOk(*a, "$share/g/mix", 1);
  SubscribeOk(*b, "$share/g/mix", 1);
  SubscribeOk(*plain, "mix", 1);
  PublishN("mix", 10);
  EXPECT_EQ(Drain(*plain).size(), 10u);
  EXPECT_EQ(Drain(*a).size() + Drain(*b).size(), 10u);
}

TEST_F(SharedTest, EachGroupGetsItsOwnCopy) {
  auto g1 = Client5("g1");
  auto g2a = Client5("g2a");
  auto g2b = Client5("g2b");
  SubscribeOk(*g1, "$share/one/grp", 1);
  SubscribeOk(*g2a, "$share/two/grp", 1);
  SubscribeOk(*g2b, "$share/two/grp", 1);
  PublishN("grp", 10);
  EXPECT_EQ(Drain(*g1).size(), 10u);
  EXPECT_EQ(Drain(*g2a).size() + Drain(*g2b).size(), 10u);
}

TEST_F(SharedTest, SharedWildcardFilter) {
  auto a = Client5("a");
  SubscribeOk(*a, "$share/g/w/+/x", 0);
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "w/1/x", .payload = "yes"});
  PublishOk(*pub, {.topic = "w/1/y", .payload = "no"});
  EXPECT_EQ(Drain(*a), std::vector<std::string>{"yes"});
}

TEST_F(SharedTest, UnsubscribeLeavesGroup) {
  auto a = Client5("a");
  auto b = Client5("b");
  SubscribeOk(*a, "$share/g/u", 0);
  SubscribeOk(*b, "$share/g/u", 0);
  a->Send(Unsubscribe(kV5, 5, {"$share/g/u"}));
  EXPECT_EQ(Hex(a->Read()), "B0 04 00 05 00 00");
  PublishN("u", 5);
  EXPECT_TRUE(Drain(*a).empty());
  EXPECT_EQ(Drain(*b).size(), 5u);
}

TEST_F(SharedTest, InvalidShareNamesRefused8F) {
  SKIP_UNDER_MOSQUITTO("closes the connection on an invalid shared filter instead of SUBACK 0x8F");
  auto c = Client5("bad");
  for (const char* bad : {"$share/g", "$share//t", "$share/g+/t", "$share/g#/t", "$share/g/"}) {
    EXPECT_EQ(SubscribeReasons(*c, {{.filter = bad, .qos = 0}}), std::vector<uint8_t>{0x8F})
        << bad;
  }
}

TEST_F(SharedTest, NoLocalOnSharedSubscriptionIsProtocolError) {
  SKIP_UNDER_MOSQUITTO("accepts No Local on a shared subscription");
  auto c = Client5("nl");
  c->Send(Subscribe(kV5, 1, {{.filter = "$share/g/t", .qos = 0, .no_local = true}}));
  ExpectClose(*c, 0x82);  // [MQTT-3.8.3-4]
}

}  // namespace
}  // namespace sluice::conformance
