// Hostile clients against one broker at once: garbage bytes, slowloris CONNECTs, packets
// declaring huge lengths, password guessing, SUBSCRIBE floods and PUBLISH floods (with a
// subscriber that never reads). The broker must stay up, its peak memory (VmHWM from /proc)
// bounded, every slowloris socket closed by connect_timeout_s, and a well-behaved client
// served throughout. Its round-trip latency is measured first without attackers (baseline),
// then under attack; both are printed, and only a loose bound is asserted (shared machine).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <thread>

#include <gtest/gtest.h>

#include "base/rng.h"
#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;
using Clock = std::chrono::steady_clock;


TEST(HostileTest, BrokerStaysUpBoundedAndServesGoodClients) {
  std::string error;
  // A password file with the default PBKDF2 cost, for the password guesser below.
  std::string passwords = TempDir("hostile") + "/passwords";
  ASSERT_EQ(std::system((Runfile("SLUICE_PASSWD") + " -c " + passwords + " alice s3cret").c_str()), 0);
  // A short connect timeout, so the slowloris sockets are closed within the test.
  auto broker = Broker::Start({"--threads=2", "--connect-timeout-s=1",
                               "--password-file=" + passwords,
                               "--max-subscriptions-per-client=100",
                               "--max-publish-rate=5000", "--max-packet-size=65536",
                               "--max-write-buffer-bytes=1048576"},
                              &error);
  ASSERT_TRUE(broker) << error;
  const uint16_t port = broker->port();

  // The well-behaved pair: a subscriber and a publisher measuring round trips.
  Client good_sub(TcpWire(port), kV5), good_pub(TcpWire(port), kV5);
  ASSERT_EQ(good_sub.Connect("good-sub").reason, 0);
  ASSERT_EQ(good_pub.Connect("good-pub").reason, 0);
  good_sub.Send(c::Subscribe(kV5, 1, {{.filter = "good/t"}}));
  ASSERT_EQ(good_sub.ReadDecoded().type, c::kSuback);

  // The good client publishes and measures round trips (publish -> delivery) for `duration`,
  // pacing itself at ~50/s; `*rss_max_kib` tracks the largest VmRSS sampled meanwhile.
  int n = 0;
  auto measure = [&](std::chrono::seconds duration, std::vector<int64_t>* latencies_us,
                     long* rss_max_kib) {
    auto until = Clock::now() + duration;
    while (Clock::now() < until) {
      auto t0 = Clock::now();
      good_pub.Send(c::Publish(kV5, {.topic = "good/t", .payload = std::to_string(n)}));
      Packet p = good_sub.ReadDecoded(3000ms);
      ASSERT_EQ(p.payload, std::to_string(n)) << "the good subscriber lost a message";
      latencies_us->push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
      ++n;
      *rss_max_kib = std::max(*rss_max_kib, broker->RssKib());
      std::this_thread::sleep_for(20ms);  // pacing, not synchronisation
    }
  };
  std::vector<int64_t> baseline_us;
  long rss_max_kib = 0;
  measure(2s, &baseline_us, &rss_max_kib);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_FALSE(baseline_us.empty());
  const long rss_start_kib = broker->RssKib();
  const long hwm_start_kib = broker->PeakRssKib();
  ASSERT_GT(hwm_start_kib, 0) << "no VmHWM in /proc/PID/status";

  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  // Garbage: random bytes on fresh connections.
  attackers.emplace_back([&] {
    SeededRng rng(42);  // seeded: a failing run is reproducible
    while (!stop) {
      Client bad(TcpWire(port), kV5);
      std::string junk(1 + rng.Next() % 2048, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng.Next());
      bad.Send(junk);
      bad.ExpectClosed(2000ms);
    }
  });
  // Slowloris: waves of 100 sockets with a CONNECT that never completes; the broker must
  // close every one of them (connect_timeout_s = 1). A wave started before `stop` is waited
  // for to the end (bounded).
  std::atomic<int> slowloris_opened{0}, slowloris_closed{0}, slowloris_waves{0};
  attackers.emplace_back([&] {
    while (!stop) {
      std::vector<std::unique_ptr<Client>> wave;
      for (int i = 0; i < 100; ++i) {
        auto s = std::make_unique<Client>(TcpWire(port), kV5);
        s->Send(std::string("\x10\x7f\x00\x04MQ", 6));
        wave.push_back(std::move(s));
        ++slowloris_opened;
      }
      auto deadline = Clock::now() + 15s;
      for (auto& s : wave) {
        auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
        if (s->ExpectClosed(std::max(left, Millis(1)))) ++slowloris_closed;
      }
      ++slowloris_waves;
    }
  });
  // Huge declared lengths: refused before anything is buffered.
  attackers.emplace_back([&] {
    while (!stop) {
      Client bad(TcpWire(port), kV311);
      bad.Send(std::string("\x10\xff\xff\xff\x7f\x00\x04MQTT", 11));
      bad.ExpectClosed(2000ms);
      Client bad2(TcpWire(port), kV5);
      ASSERT_EQ(bad2.Connect("huge-" + std::to_string(Clock::now().time_since_epoch().count())).reason, 0);
      bad2.Send(std::string("\x30\xff\xff\xff\x7f", 5) + std::string(1000, 'x'));
      bad2.ExpectClosed(2000ms);
    }
  });
  // Password guessing: wrong passwords as fast as the broker answers, from several sockets.
  // PBKDF2 runs on the auth workers, so the shards keep serving the good clients.
  std::atomic<int> guesses{0};
  for (int t = 0; t < 4; ++t) {
    attackers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Client guess(TcpWire(port), kV311);
        Packet p = guess.Connect("guess-" + std::to_string(t), "alice", "guess" + std::to_string(i));
        if (p.type == c::kConnack) {
          EXPECT_NE(p.reason, 0) << "a wrong password was accepted";
          ++guesses;
        }
      }
    });
  }
  // SUBSCRIBE flood: thousands of distinct filters from a few clients.
  for (int t = 0; t < 2; ++t) {
    attackers.emplace_back([&, t] {
      Client flood(TcpWire(port), kV5);
      if (flood.Connect("sub-flood-" + std::to_string(t)).reason != 0) return;
      for (int i = 0; i < 3000 && !stop; ++i) {
        flood.Send(c::Subscribe(kV5, static_cast<uint16_t>(1 + i % 60000),
                                {{.filter = "f/" + std::to_string(t) + "/" + std::to_string(i)}}));
        if (i % 100 == 0) flood.Read(1ms);
      }
      while (!stop) flood.Read(50ms);
    });
  }
  // PUBLISH flood towards a subscriber that never reads.
  Client stuck(TcpWire(port), kV5);
  ASSERT_EQ(stuck.Connect("stuck").reason, 0);
  stuck.Send(c::Subscribe(kV5, 1, {{.filter = "flood/#"}}));
  for (int t = 0; t < 2; ++t) {
    attackers.emplace_back([&, t] {
      Client flood(TcpWire(port), kV5);
      if (flood.Connect("pub-flood-" + std::to_string(t)).reason != 0) return;
      std::string payload(1024, 'f');
      Bytes packet = c::Publish(kV5, {.topic = "flood/x", .payload = payload});
      std::string batch;
      for (int i = 0; i < 64; ++i) batch += packet;
      while (!stop && flood.Send(batch)) {
      }
    });
  }

  // Meanwhile the good client publishes and measures.
  std::vector<int64_t> attack_us;
  measure(6s, &attack_us, &rss_max_kib);
  stop = true;
  for (auto& t : attackers) t.join();
  const long hwm_end_kib = broker->PeakRssKib();
  ASSERT_FALSE(HasFatalFailure());

  ASSERT_FALSE(broker->Exited()) << "the broker died";
  ASSERT_FALSE(attack_us.empty());
  auto summary = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zu round trips, median %.2f ms, p99 %.2f ms, max %.2f ms",
                  v.size(), v[v.size() / 2] / 1000.0, v[v.size() * 99 / 100] / 1000.0,
                  v.back() / 1000.0);
    return std::string(buf);
  };
  std::printf("good client, baseline (no attackers): %s\n", summary(baseline_us).c_str());
  std::printf("good client, under attack:            %s\n", summary(attack_us).c_str());
  // The kernel's RSS counters are approximate (per-CPU batching): take the larger of the
  // high-water mark and the largest VmRSS sampled as the peak.
  const long peak_kib = std::max(hwm_end_kib, rss_max_kib);
  std::printf("memory: VmRSS %ld KiB at the start of the attack, %ld KiB max sampled; VmHWM "
              "%ld KiB before the attack -> %ld KiB after\n",
              rss_start_kib, rss_max_kib, hwm_start_kib, hwm_end_kib);
  std::printf("slowloris: %d sockets in %d waves, %d closed by the broker; %d wrong passwords "
              "refused\n",
              slowloris_opened.load(), slowloris_waves.load(), slowloris_closed.load(),
              guesses.load());
  EXPECT_GT(guesses.load(), 10);
  EXPECT_GE(slowloris_waves.load(), 1);
  EXPECT_EQ(slowloris_closed.load(), slowloris_opened.load())
      << "slowloris sockets outlived connect_timeout_s";
  // Loose on purpose: the test machine is shared (2 cores, other builds running). Every
  // round trip already finished within 3 s (above); the median must stay under 1 s.
  std::sort(attack_us.begin(), attack_us.end());
  EXPECT_LT(attack_us[attack_us.size() / 2], 1000 * 1000);
  // The peak (VmHWM), not just the resident size at the end, stays bounded.
  EXPECT_LT(peak_kib - rss_start_kib, 256 * 1024) << "memory grew without bound";
  // Still serving new clients, and still stopping cleanly.
  Client after(TcpWire(port), kV5);
  EXPECT_EQ(after.Connect("after").reason, 0);
  int status = broker->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace sluice::security_test
