// The will delay and session expiry rules (MQTT 5 3.1.2.11.2, 3.1.3.2.2) on a manual clock:
// no sleeps, every boundary exact.
#include "broker/session/lifecycle.h"

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

TEST(SessionLifecycle, ExpiryZeroEndsTheSessionAndSendsTheWillAtOnce) {
  SessionLifecycle l;
  auto a = l.Disconnected(1000, /*has_will=*/true, /*will_delay_s=*/30, /*expiry_s=*/0);
  EXPECT_TRUE(a.publish_will);
  EXPECT_TRUE(a.end_session);
  EXPECT_FALSE(l.NextDeadlineMs());
}

TEST(SessionLifecycle, WillWaitsForItsDelayThenTheSessionExpires) {
  SessionLifecycle l;
  auto a = l.Disconnected(1000, true, 5, 60);
  EXPECT_FALSE(a.publish_will);
  EXPECT_FALSE(a.end_session);
  EXPECT_TRUE(l.will_pending());
  EXPECT_EQ(l.NextDeadlineMs(), 6000);
  EXPECT_FALSE(l.OnTime(5999).publish_will);
  auto w = l.OnTime(6000);
  EXPECT_TRUE(w.publish_will);
  EXPECT_FALSE(w.end_session);
  EXPECT_EQ(l.NextDeadlineMs(), 61000);
  EXPECT_FALSE(l.OnTime(60999).end_session);
  auto e = l.OnTime(61000);
  EXPECT_TRUE(e.end_session);
  EXPECT_FALSE(e.publish_will) << "already sent";
  EXPECT_FALSE(l.NextDeadlineMs());
}

TEST(SessionLifecycle, TheSessionEndingFirstSendsAWillThatWasStillWaiting) {
  SessionLifecycle l;
  l.Disconnected(0, true, 120, 10);
  EXPECT_EQ(l.NextDeadlineMs(), 10000) << "the earlier of will delay and session end";
  auto a = l.OnTime(10000);
  EXPECT_TRUE(a.publish_will);
  EXPECT_TRUE(a.end_session);
}

TEST(SessionLifecycle, ReconnectingCancelsTheWillAndTheExpiry) {
  SessionLifecycle l;
  l.Disconnected(0, true, 5, 60);
  l.Connected();
  EXPECT_FALSE(l.will_pending());
  EXPECT_FALSE(l.NextDeadlineMs());
  auto late = l.OnTime(100000);  // a stale timer firing after the reconnect
  EXPECT_FALSE(late.publish_will);
  EXPECT_FALSE(late.end_session);
}

TEST(SessionLifecycle, NeverExpiringSessionsKeepOnlyTheirWill) {
  SessionLifecycle l;
  auto a = l.Disconnected(0, true, 0, kSessionNeverExpires);
  EXPECT_TRUE(a.publish_will) << "no delay: at once";
  EXPECT_FALSE(a.end_session);
  EXPECT_FALSE(l.NextDeadlineMs());
  l.Connected();
  l.Disconnected(0, true, 7, kSessionNeverExpires);
  EXPECT_EQ(l.NextDeadlineMs(), 7000);
  EXPECT_TRUE(l.OnTime(7000).publish_will);
  EXPECT_FALSE(l.NextDeadlineMs());
}

TEST(SessionLifecycle, RestoredSessionsExpireFromRestart) {
  SessionLifecycle l;
  l.Restored(500, 3);
  EXPECT_EQ(l.NextDeadlineMs(), 3500);
  EXPECT_TRUE(l.OnTime(3500).end_session);
  SessionLifecycle forever;
  forever.Restored(0, kSessionNeverExpires);
  EXPECT_FALSE(forever.NextDeadlineMs());
}

}  // namespace
}  // namespace sluice::broker
