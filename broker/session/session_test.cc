#include "broker/session/session.h"

#include <map>
#include <set>

#include "base/rng.h"
#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

// A delivery of a message that is not in the log (offset -1).
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

// A delivery of record (partition, offset) of the commit log.
Delivery Logged(uint32_t partition, int64_t offset, uint8_t qos = 1) {
  Delivery d = Make(qos, std::to_string(partition) + ":" + std::to_string(offset));
  auto m = std::make_shared<Message>(*d.message);
  m->partition = partition;
  m->offset = offset;
  d.message = m;
  return d;
}

SessionLimits MemoryLimits(uint32_t cap) {
  SessionLimits l;
  l.log_backed = false;
  l.max_queued = cap;
  return l;
}

// ---- the in-memory rules (not log-backed) ---------------------------------------------------

TEST(Session, WindowLimitsInflightAndAcksPullFromQueue) {
  const SessionLimits limits = MemoryLimits(10);
  Session s("c", &limits);
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
  const SessionLimits limits = MemoryLimits(10);
  Session s("c", &limits);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Make(0), 1000, &out), OfferResult::kDroppedOffline);
  s.Attach(1);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Make(0), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(out.back().packet_id, 0);
}

TEST(Session, InMemoryQueueBoundIsEnforcedAndCounted) {
  const SessionLimits limits = MemoryLimits(2);
  Session s("c", &limits);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Make(1), 1000, &out), OfferResult::kDroppedQueueFull);
  // With max_queued_messages set, even log records wait in memory and are capped.
  EXPECT_EQ(s.Offer(Logged(0, 5), 1000, &out), OfferResult::kDroppedQueueFull);
  EXPECT_EQ(s.counters().dropped_queue_full, 2u);
  EXPECT_TRUE(out.empty());
}

TEST(Session, Qos2FlowAndResumeResendsInOrder) {
  const SessionLimits limits;
  Session s("c", &limits);
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
  const SessionLimits limits = MemoryLimits(10);
  Session s("c", &limits);
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
  const SessionLimits limits;
  Session s("c", &limits);
  EXPECT_TRUE(s.BeginIncomingQos2(5));
  EXPECT_FALSE(s.BeginIncomingQos2(5));
  EXPECT_TRUE(s.EndIncomingQos2(5));
  EXPECT_FALSE(s.EndIncomingQos2(5));
  EXPECT_TRUE(s.BeginIncomingQos2(5));
}

TEST(Session, PacketIdsSkipThoseInUseAcrossWrap) {
  const SessionLimits limits = MemoryLimits(0);
  Session s("c", &limits);
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

// ---- the session as a consumer of the log (issue 13) --------------------------------------

TEST(SessionLog, ASlowSessionFallsBehindInsteadOfDroppingAndReadsBack) {
  SessionLimits limits;
  limits.read_ahead_messages = 2;
  Session s("c", &limits);
  s.Attach(1);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Logged(0, 10), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Logged(0, 11), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Logged(0, 12), 1000, &out), OfferResult::kQueued);
  EXPECT_EQ(s.Offer(Logged(0, 13), 1000, &out), OfferResult::kDeferred);  // read-ahead full
  EXPECT_EQ(s.Offer(Logged(0, 14), 1000, &out), OfferResult::kDeferred);  // behind: ignored
  EXPECT_EQ(s.counters().dropped_queue_full, 0u);
  EXPECT_TRUE(s.behind(0));
  EXPECT_EQ(s.FirstNeeded(0, 100), 10);  // the window's message
  // No room yet: the read-ahead is full.
  EXPECT_FALSE(s.NextFetch());
  std::vector<Outbound> more;
  ASSERT_TRUE(s.OnPuback(out[0].packet_id, 1000, &more));  // 11 goes out, 12 waits
  ASSERT_EQ(more.size(), 1u);
  auto fetch = s.NextFetch();
  ASSERT_TRUE(fetch);
  EXPECT_EQ(fetch->partition, 0u);
  EXPECT_EQ(fetch->from, 13);
  EXPECT_EQ(fetch->max_records, 1u);
  // The read found 13 (matching) and 14 not: the high watermark then was 15, and nothing at
  // or past it was deferred, so the partition is live again.
  s.OnFetched(0, {Logged(0, 13)}, 14, 15, 1000, &more);
  EXPECT_TRUE(s.behind(0));  // scanned to 14 < 15: reads on
  s.OnFetched(0, {Logged(0, 14)}, 15, 15, 1000, &more);
  EXPECT_FALSE(s.behind(0));
  EXPECT_EQ(s.Offer(Logged(0, 14), 1000, &more), OfferResult::kDuplicate);  // the seam
  EXPECT_EQ(s.counters().read_from_log, 2u);
}

TEST(SessionLog, ADeliveryDeferredDuringARead_KeepsThePartitionBehind) {
  SessionLimits limits;
  limits.read_ahead_messages = 0;
  Session s("c", &limits);
  s.Attach(1);
  std::vector<Outbound> out;
  EXPECT_EQ(s.Offer(Logged(3, 0), 1000, &out), OfferResult::kSent);
  EXPECT_EQ(s.Offer(Logged(3, 1), 1000, &out), OfferResult::kDeferred);
  ASSERT_TRUE(s.OnPuback(out[0].packet_id, 1000, &out));
  // The read saw the high watermark 2; meanwhile record 2 was routed (deferred: behind).
  EXPECT_EQ(s.Offer(Logged(3, 2), 1000, &out), OfferResult::kDeferred);
  s.OnFetched(3, {Logged(3, 1)}, 2, 2, 1000, &out);
  EXPECT_TRUE(s.behind(3)) << "record 2 was deferred at or past the end of the read";
  auto fetch = s.NextFetch();
  EXPECT_FALSE(fetch) << "window full";
}

TEST(SessionLog, OfflineSessionsKeepNoBacklogInMemory) {
  SessionLimits limits;
  limits.read_ahead_messages = 100;
  Session s("c", &limits);
  s.Attach(2);
  std::vector<Outbound> out;
  for (int64_t o = 0; o < 5; ++o) s.Offer(Logged(1, o), 1000, &out);
  EXPECT_EQ(s.inflight(), 2u);
  EXPECT_EQ(s.queued(), 3u);
  const std::vector<int64_t> watermarks = {7, 5};
  s.Detach(&watermarks);
  EXPECT_EQ(s.queued(), 0u) << "the read-ahead went back to the log";
  EXPECT_EQ(s.MissingInflight().size(), 2u) << "window messages released";
  EXPECT_EQ(s.FirstNeeded(0, 7), 7);
  EXPECT_EQ(s.FirstNeeded(1, 5), 0);
  for (int64_t o = 5; o < 1000; ++o) EXPECT_EQ(s.Offer(Logged(1, o), 1000, &out), OfferResult::kDeferred);
  EXPECT_EQ(s.queued(), 0u);
  // Back: the window's messages are loaded, re-sent with DUP, then the log is read.
  s.Attach(2);
  for (auto [p, o] : s.MissingInflight()) EXPECT_TRUE(s.LoadInflight(p, o, Logged(p, o).message));
  std::vector<Outbound> resumed;
  s.Resume(1000, &resumed);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_TRUE(resumed[0].dup);
  // The window is full, the read-ahead has room: read on from where each partition stands.
  auto f = s.NextFetch();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->from, f->partition == 0 ? 7 : 2);
  EXPECT_EQ(f->max_records, 100u);
}

TEST(SessionLog, RecordsLostToHardRetentionAreCounted) {
  SessionLimits limits;
  Session s("c", &limits);
  s.RestorePositions({10, 0});
  s.OnRecordsLost(0, 25);
  EXPECT_EQ(s.counters().records_lost, 15u);
  EXPECT_EQ(s.FirstNeeded(0, 0), 25);
  // A restored window entry whose record is gone leaves the window on resume.
  ASSERT_TRUE(s.RestoreInflight(9, false, Delivery{nullptr, 1}, 0, 20));
  s.Attach(5);
  std::vector<Outbound> out;
  s.Resume(1000, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.inflight(), 0u);
  EXPECT_EQ(s.counters().records_lost, 16u);
}

TEST(SessionLog, SharedAndRetainedCopiesWaitInMemory) {
  SessionLimits limits;
  limits.memory_queue_max = 1;
  Session s("c", &limits);
  std::vector<Outbound> out;
  Delivery shared = Logged(0, 1);
  shared.shared = true;
  EXPECT_EQ(s.Offer(shared, 1000, &out), OfferResult::kQueued);
  Delivery retained = Logged(0, 2);
  retained.retained_copy = true;
  EXPECT_EQ(s.Offer(retained, 1000, &out), OfferResult::kDroppedQueueFull);
  EXPECT_FALSE(s.behind());
}

// A model check: a random interleaving of live deliveries (in offset order, some matching),
// acks, reads of the log and detach/attach delivers every matching record exactly once and
// in order, whatever the read-ahead size.
TEST(SessionLog, RandomInterleavingsDeliverEachRecordOnceInOrder) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SeededRng rng(seed);
    SessionLimits limits;
    limits.read_ahead_messages = static_cast<uint32_t>(rng.Uniform(4));
    Session s("c", &limits);
    s.Attach(static_cast<uint16_t>(1 + rng.Uniform(3)));
    std::vector<bool> matches;      // per offset of partition 0: does it match the session
    int64_t routed = 0;             // next offset to route live
    std::vector<int64_t> delivered;
    std::vector<uint16_t> window;
    auto take = [&](std::vector<Outbound>& out) {
      for (const Outbound& o : out) {
        if (o.kind != Outbound::Kind::kPublish || o.dup) continue;
        delivered.push_back(o.delivery.message->offset);
        window.push_back(o.packet_id);
      }
      out.clear();
    };
    std::vector<Outbound> out;
    for (int step = 0; step < 300; ++step) {
      const uint64_t r = rng.Uniform(10);
      if (r < 4) {  // a record is appended and routed
        matches.push_back(rng.Uniform(3) != 0);
        if (matches.back()) s.Offer(Logged(0, routed), 1000, &out);
        ++routed;
      } else if (r < 6 && !window.empty()) {  // an ack
        ASSERT_TRUE(s.OnPuback(window.front(), 1000, &out));
        window.erase(window.begin());
      } else if (r < 9) {  // a read of the log
        if (auto f = s.NextFetch()) {
          std::vector<Delivery> found;
          int64_t o = f->from;
          for (; o < routed && found.size() < f->max_records; ++o)
            if (matches[o]) found.push_back(Logged(0, o));
          s.OnFetched(0, std::move(found), o, routed, 1000, &out);
        }
      } else if (rng.Uniform(4) == 0) {  // the client goes and comes back
        const std::vector<int64_t> w = {routed};
        s.Detach(&w);
        window.clear();
        s.Attach(static_cast<uint16_t>(1 + rng.Uniform(3)));
        for (auto [p, o] : s.MissingInflight()) s.LoadInflight(p, o, Logged(p, o).message);
        std::vector<Outbound> resumed;
        s.Resume(1000, &resumed);
        for (const Outbound& o : resumed) window.push_back(o.packet_id);
        take(resumed);
      }
      take(out);
    }
    // Drain: ack and read until nothing is left.
    for (int i = 0; i < 10'000 && (!window.empty() || s.NextFetch()); ++i) {
      while (!window.empty()) {
        ASSERT_TRUE(s.OnPuback(window.front(), 1000, &out));
        window.erase(window.begin());
        take(out);
      }
      if (auto f = s.NextFetch()) {
        std::vector<Delivery> found;
        int64_t o = f->from;
        for (; o < routed && found.size() < f->max_records; ++o)
          if (matches[o]) found.push_back(Logged(0, o));
        s.OnFetched(0, std::move(found), o, routed, 1000, &out);
        take(out);
      }
    }
    std::vector<int64_t> want;
    for (int64_t o = 0; o < routed; ++o)
      if (matches[o]) want.push_back(o);
    ASSERT_EQ(delivered, want) << "seed " << seed;
  }
}

}  // namespace
}  // namespace sluice::broker
