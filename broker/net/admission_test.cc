#include "broker/net/admission.h"

#include <thread>

#include <gtest/gtest.h>

namespace sluice::net {
namespace {

TEST(Admission, UnlimitedAdmitsEverythingWithTicketsThatOwnNothing) {
  Admission a({});
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 1000; ++i) {
    held.push_back(a.TryAdmit("10.0.0.1"));
    ASSERT_TRUE(held.back());
    EXPECT_EQ(held.back().use_count(), 0) << "an unlimited ticket must not allocate";
  }
  EXPECT_EQ(a.counts().open, 0u) << "open is counted only while a connection limit is set";
}

TEST(Admission, OpenIsCountedUnderATotalLimit) {
  Admission a({.max_connections = 5000});
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 1000; ++i) held.push_back(a.TryAdmit("10.0.0.1"));
  EXPECT_EQ(a.counts().open, 1000u);
  held.clear();
  EXPECT_EQ(a.counts().open, 0u);
}

TEST(Admission, TotalAndPerAddressSlotsAreFreedByTheTicket) {
  Admission a({.max_connections = 3, .max_connections_per_address = 2});
  auto a1 = a.TryAdmit("10.0.0.1");
  auto a2 = a.TryAdmit("10.0.0.1");
  EXPECT_TRUE(a1 && a2);
  EXPECT_FALSE(a.TryAdmit("10.0.0.1")) << "third from one address";
  auto b1 = a.TryAdmit("10.0.0.2");
  EXPECT_TRUE(b1);
  EXPECT_FALSE(a.TryAdmit("10.0.0.3")) << "fourth in total";
  a1.reset();
  EXPECT_TRUE(a.TryAdmit("10.0.0.1"));
  Admission::Counts c = a.counts();
  EXPECT_EQ(c.refused_total, 2u);
  EXPECT_EQ(c.refused_per_address, 1u);
}

TEST(Admission, RateIsATokenBucketWithOneSecondOfBurst) {
  ManualClock clock(1'000'000);
  Admission a({.max_connection_rate = 10}, &clock);
  int admitted = 0;
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 50; ++i) {
    auto t = a.TryAdmit("10.0.0.1");
    if (t) ++admitted;
    held.push_back(std::move(t));
  }
  EXPECT_EQ(admitted, 10) << "one second of burst";
  EXPECT_EQ(a.counts().refused_rate, 40u);
  clock.AdvanceMs(250);  // a quarter second refills 2.5 tokens
  admitted = 0;
  for (int i = 0; i < 10; ++i)
    if (a.TryAdmit("10.0.0.1")) ++admitted;
  EXPECT_EQ(admitted, 2);
  clock.AdvanceMs(10'000);  // never more than one second's worth
  admitted = 0;
  for (int i = 0; i < 20; ++i)
    if (a.TryAdmit("10.0.0.1")) ++admitted;
  EXPECT_EQ(admitted, 10);
}

}  // namespace
}  // namespace sluice::net
