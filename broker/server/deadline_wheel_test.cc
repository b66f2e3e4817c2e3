#include "broker/server/deadline_wheel.h"

#include <algorithm>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

using Entry = DeadlineWheel::Entry;

std::vector<Entry*> ExpireAt(DeadlineWheel& w, int64_t now_ms) {
  std::vector<Entry*> due;
  w.Expire(now_ms, &due);
  return due;
}

TEST(DeadlineWheelTest, DueOnlyOnceTheDeadlineTickHasPassed) {
  DeadlineWheel w(1000);
  Entry e;
  w.Schedule(&e, 1120);
  EXPECT_TRUE(ExpireAt(w, 1119).empty());
  EXPECT_TRUE(ExpireAt(w, 1120).empty());  // its tick (1100..1149) has not passed yet
  EXPECT_EQ(ExpireAt(w, 1149), std::vector<Entry*>{&e});
  EXPECT_FALSE(e.scheduled());
  EXPECT_EQ(w.size(), 0u);
}

TEST(DeadlineWheelTest, PastDeadlineIsDueAtTheNextExpire) {
  DeadlineWheel w(5000);
  ExpireAt(w, 6000);
  Entry e;
  w.Schedule(&e, 10);
  EXPECT_EQ(ExpireAt(w, 6050), std::vector<Entry*>{&e});
}

TEST(DeadlineWheelTest, DeadlinesBeyondOneTurnWaitForTheirTurn) {
  DeadlineWheel w(0);
  const int64_t turn_ms = DeadlineWheel::kTickMs * DeadlineWheel::kSlots;
  Entry far, near;
  w.Schedule(&far, turn_ms + 200);
  w.Schedule(&near, 200);  // the same slot, one turn earlier
  EXPECT_EQ(ExpireAt(w, 260), std::vector<Entry*>{&near});
  EXPECT_TRUE(ExpireAt(w, turn_ms).empty());
  EXPECT_EQ(ExpireAt(w, turn_ms + 260), std::vector<Entry*>{&far});
}

TEST(DeadlineWheelTest, RescheduleAndCancel) {
  DeadlineWheel w(0);
  Entry a, b;
  w.Schedule(&a, 100);
  w.Schedule(&b, 100);
  w.Schedule(&a, 400);  // moves, not duplicates
  w.Cancel(&b);
  w.Cancel(&b);  // harmless twice
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(ExpireAt(w, 300).empty());
  EXPECT_EQ(ExpireAt(w, 500), std::vector<Entry*>{&a});
}

TEST(DeadlineWheelTest, LongPauseVisitsEverySlotOnce) {
  DeadlineWheel w(0);
  std::vector<Entry> entries(50);
  for (size_t i = 0; i < entries.size(); ++i) w.Schedule(&entries[i], 1000 + 997 * i);
  auto due = ExpireAt(w, 10'000'000);
  EXPECT_EQ(due.size(), entries.size());
  EXPECT_EQ(w.size(), 0u);
}

// Against a model: random schedules, cancels and expiries; every entry comes out exactly
// once, no earlier than its deadline and less than a tick after the first Expire past it.
TEST(DeadlineWheelTest, MatchesAModel) {
  std::mt19937_64 rng(7);
  DeadlineWheel w(0);
  std::vector<Entry> entries(200);
  std::map<Entry*, int64_t> model;
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    Entry* e = &entries[rng() % entries.size()];
    switch (rng() % 4) {
      case 0:
      case 1: {
        int64_t deadline = now + static_cast<int64_t>(rng() % 120000) - 1000;
        w.Schedule(e, deadline);
        model[e] = deadline;
        break;
      }
      case 2:
        w.Cancel(e);
        model.erase(e);
        break;
      default: {
        now += static_cast<int64_t>(rng() % 3000);
        for (Entry* d : ExpireAt(w, now)) {
          auto it = model.find(d);
          ASSERT_NE(it, model.end());
          EXPECT_LE(it->second, now);
          model.erase(it);
        }
        for (auto& [entry, deadline] : model) {
          EXPECT_GT(deadline, now - DeadlineWheel::kTickMs) << "overdue at " << now;
        }
      }
    }
    ASSERT_EQ(w.size(), model.size());
  }
}

}  // namespace
}  // namespace sluice::broker
