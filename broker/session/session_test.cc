#include "broker/session/session.h"

#include <set>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

Delivery Make(uint8_t qos, std::string payload = "p", std::optional<uint32_t> expiry = {}) {
  auto m = std::make_shared<Message>();
  m->topic = "t";
  m->payload = std::move(payload);
  m->qos = qos;
  m->received_ms = 1000;
  m->properties.message_expiry_interval = expiry;
  Delivery d;
  d.message = m;
  d.qos = qos;
  return d;
}

TEST(Session, WindowLimitsInflightAndAcksPullFromQueue) {
  Session s("c", 10);
  s.Attach(2);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Make(1, "a"), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Make(1, "b"), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Make(1, "c"), 1000, &out), OfferResult::kQueued);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].packet_id, out[1].packet_id);
  EXPECT_EQ(s.inflight(), 2u);
  std::vector<Outbound> more;
  EXPECT_TRUE(s.OnPuback(out[0].packet_id, 1000, &more));
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].delivery.message->payload, "c");
  EXPECT_FALSE(s.OnPuback(out[0].packet_id, 1000, &more));  // already acked
}

TEST(Session, Qos0NeverWaitsForTheWindowAndIsNotQueuedOffline) {
  Session s("c", 10);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Make(0), 1000, &out), OfferResult::kDroppedOffline);
  s.Attach(1);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Make(0), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(out.back().packet_id, 0);
}

TEST(Session, QueueBoundIsEnforcedAndCounted) {
  Session s("c", 2);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kDroppedQueueFull);
  EXPECT_EQ(s.counters().dropped_queue_full, 1u);
  EXPECT_TRUE(out.empty());
}

TEST(Session, Qos2FlowAndResumeResendsInOrder) {
  Session s("c", 10);
  s.Attach(10);
  std::vector<Outbound> out;
  s.Offer(Make(2, "x"), 1000, &out);
  s.Offer(Make(1, "y"), 1000, &out);
  ASSERT_EQ(out.size(), 2u);
  uint16_t id2 = out[0].packet_id, id1 = out[1].packet_id;
  std::vector<Outbound> rel;
  EXPECT_FALSE(s.OnPuback(id2, 1000, &rel));  // wrong ack for QoS 2
  EXPECT_TRUE(s.OnPubrec(id2, 0, 1000, &rel));
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(rel[0].kind, Outbound::Kind::kPubrel);
  s.Detach();
  s.Attach(10);
  std::vector<Outbound> resumed;
  s.Resume(1000, &resumed);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].kind, Outbound::Kind::kPubrel);
  EXPECT_EQ(resumed[0].packet_id, id2);
  EXPECT_EQ(resumed[1].kind, Outbound::Kind::kPublish);
  EXPECT_TRUE(resumed[1].dup);
  EXPECT_EQ(resumed[1].packet_id, id1);
  std::vector<Outbound> none;
  EXPECT_TRUE(s.OnPubcomp(id2, 1000, &none));
  EXPECT_EQ(s.inflight(), 1u);
}

TEST(Session, ExpiredMessagesAreDroppedAndRemainingExpirySent) {
  Session s("c", 10);
  std::vector<Outbound> out;
  s.Offer(Make(1, "short", 1), 1000, &out);
  s.Offer(Make(1, "long", 10), 1000, &out);
  s.Attach(10);
  s.Resume(4000, &out);  // 3 s later
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].delivery.message->payload, "long");
  EXPECT_TRUE(out[0].has_expiry);
  EXPECT_EQ(out[0].expiry_s, 7u);
  EXPECT_EQ(s.counters().dropped_expired, 1u);
}

TEST(Session, IncomingQos2Dedup) {
  Session s("c", 10);
  EXPECT_TRUE(s.BeginIncomingQos2(5));
  EXPECT_FALSE(s.BeginIncomingQos2(5));
  EXPECT_TRUE(s.EndIncomingQos2(5));
  EXPECT_FALSE(s.EndIncomingQos2(5));
  EXPECT_TRUE(s.BeginIncomingQos2(5));
}

TEST(Session, PacketIdsSkipThoseInUseAcrossWrap) {
  Session s("c", 0);
  s.Attach(65535);
  std::vector<Outbound> out;
  for (int i = 0; i < 65535; ++i) ASSERT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kSent);
  std::set<uint16_t> ids;
  for (auto& o : out) ids.insert(o.packet_id);
  EXPECT_EQ(ids.size(), 65535u);
  EXPECT_FALSE(ids.count(0));
  std::vector<Outbound> more;
  s.OnPuback(777, 1000, &more);
  EXPECT_EQ(s.Offer(Make(1), 1000, &more), OfferResult::kSent);
  EXPECT_EQ(more.back().packet_id, 777);
}

}  // namespace
}  // namespace sluice::broker
