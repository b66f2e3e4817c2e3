// Hostile clients against one broker at once: garbage bytes, slowloris CONNECTs, packets
// declaring huge lengths, SUBSCRIBE floods and PUBLISH floods (with a subscriber that never
// reads). The broker must stay up, its memory (VmRSS from /proc) bounded, and a well-behaved
// client must keep being served promptly throughout.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstdint>
#include <thread>

#include <gtest/gtest.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;
using Clock = std::chrono::steady_clock;

// A small seeded PRNG (splitmix64), so a failing run is reproducible.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

TEST(HostileTest, BrokerStaysUpBoundedAndServesGoodClients) {
  std::string error;
  // A password file with the default PBKDF2 cost, for the password guesser below.
  std::string passwords = TempDir("hostile") + "/passwords";
  ASSERT_EQ(std::system((Runfile("SLUICE_PASSWD") + " -c " + passwords + " alice s3cret").c_str()), 0);
  auto broker = Broker::Start({"--threads=2", "--connect-timeout-s=2",
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
  const long rss_start_kib = broker->RssKib();

  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  // Garbage: random bytes on fresh connections.
  attackers.emplace_back([&] {
    Rng rng{42};
    while (!stop) {
      Client bad(TcpWire(port), kV5);
      std::string junk(1 + rng.Next() % 2048, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng.Next());
      bad.Send(junk);
      bad.ExpectClosed(2000ms);
    }
  });
  // Slowloris: many sockets with a CONNECT that never completes.
  attackers.emplace_back([&] {
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 200 && !stop; ++i) {
      auto s = std::make_unique<Client>(TcpWire(port), kV5);
      s->Send(std::string("\x10\x7f\x00\x04MQ", 6));
      held.push_back(std::move(s));
    }
    while (!stop) std::this_thread::sleep_for(50ms);
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
  std::vector<int64_t> latencies_ms;
  auto until = Clock::now() + 6s;
  int n = 0;
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    good_pub.Send(c::Publish(kV5, {.topic = "good/t", .payload = std::to_string(n)}));
    Packet p = good_sub.ReadDecoded(3000ms);
    ASSERT_EQ(p.payload, std::to_string(n)) << "the good subscriber lost a message";
    latencies_ms.push_back(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    ++n;
    std::this_thread::sleep_for(20ms);
  }
  const long rss_peak_kib = broker->RssKib();
  stop = true;
  for (auto& t : attackers) t.join();

  ASSERT_FALSE(broker->Exited()) << "the broker died";
  std::sort(latencies_ms.begin(), latencies_ms.end());
  int64_t median = latencies_ms[latencies_ms.size() / 2];
  int64_t p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  std::printf("good client: %zu round trips, median %lld ms, p99 %lld ms, max %lld ms; "
              "VmRSS %ld KiB -> %ld KiB; %d wrong passwords refused\n",
              latencies_ms.size(), static_cast<long long>(median), static_cast<long long>(p99),
              static_cast<long long>(latencies_ms.back()), rss_start_kib, rss_peak_kib,
              guesses.load());
  EXPECT_GT(guesses.load(), 10);
  // Generous bounds: the test machine is shared (2 cores, other builds running).
  EXPECT_LT(median, 100);
  EXPECT_LT(p99, 1000);
  EXPECT_LT(rss_peak_kib - rss_start_kib, 256 * 1024) << "memory grew without bound";
  // Still serving new clients, and still stopping cleanly.
  Client after(TcpWire(port), kV5);
  EXPECT_EQ(after.Connect("after").reason, 0);
  int status = broker->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace sluice::security_test
