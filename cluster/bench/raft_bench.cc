// raft_bench: committed entries/s and commit latency of Sluice Raft over loopback gRPC.
//
// Three nodes in this process (cluster/testing/loopback_cluster.h: real GrpcTransport on
// 127.0.0.1, one RocksDB directory per node with synced writes, one MultiRaft driver per node).
// For each scenario a fresh cluster is built, every group elects a leader, then a closed loop
// keeps `window` proposals outstanding (spread over the groups) for `seconds`; each proposal's
// latency is measured from Propose to its completion (committed by a quorum and applied on the
// leader). Prints entries/s, MB/s, p50/p99/max latency, process CPU-seconds (getrusage, all
// three nodes together) and peak RSS.
//
//   bazel run //cluster/bench:raft_bench -- --seconds=3 --window=256 --dir=/tmp/raft_bench
//   --nosync   skip fsync (shows what the disk costs)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/multiraft/multiraft.h"
#include "cluster/testing/loopback_cluster.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Flags {
  double seconds = 3;
  int window = 256;
  std::string dir = "/tmp/sluice_raft_bench";
  bool sync = true;
};

// Counts applied entries; the snapshot image is the count.
class CountingStateMachine final : public multiraft::StateMachine {
 public:
  void Apply(GroupId group, LogIndex index, std::string_view data) override { ++count_[group]; }
  std::string TakeSnapshot(GroupId group) override { return std::to_string(count_[group]); }
  void Restore(GroupId group, LogIndex index, std::string_view image) override {
    count_[group] = std::strtoull(std::string(image).c_str(), nullptr, 10);
  }

 private:
  std::map<GroupId, uint64_t> count_;  // driver thread only
};

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

// Closed-loop load: every completion issues the next proposal for the same group.
class Load {
 public:
  Load(std::map<GroupId, multiraft::MultiRaft*> leaders, size_t payload_bytes)
      : leaders_(std::move(leaders)), payload_(payload_bytes, 'x') {}

  void Run(int window, double seconds) {
    const auto start = SteadyClock::now();
    {
      std::lock_guard<std::mutex> l(mu_);
      outstanding_ = 0;
    }
    int i = 0;
    while (i < window) {
      for (auto& [g, mr] : leaders_) {
        if (i++ >= window) break;
        {
          std::lock_guard<std::mutex> l(mu_);
          ++outstanding_;
        }
        Issue(g);
      }
    }
    std::unique_lock<std::mutex> l(mu_);
    // The load runs for `seconds`, then drains (bounded) -- a timed wait by design here.
    cv_.wait_until(l, start + std::chrono::duration<double>(seconds), [] { return false; });
    stopping_ = true;
    cv_.wait_for(l, std::chrono::seconds(15), [&] { return outstanding_ == 0; });
    elapsed_s_ = std::chrono::duration<double>(SteadyClock::now() - start).count();
  }

  void Report(const char* name, double cpu_s) {
    std::lock_guard<std::mutex> l(mu_);
    std::sort(lat_us_.begin(), lat_us_.end());
    auto pct = [&](double p) -> double {
      if (lat_us_.empty()) return 0;
      return lat_us_[std::min(lat_us_.size() - 1, static_cast<size_t>(p * lat_us_.size()))] / 1e3;
    };
    const double eps = ok_ / elapsed_s_;
    std::printf("%-28s %10.0f %8.2f %8.2f %8.2f %8.2f %8.2f %6llu %6ld\n", name, eps,
                eps * payload_.size() / 1e6, pct(0.50), pct(0.99),
                lat_us_.empty() ? 0.0 : lat_us_.back() / 1e3, cpu_s,
                static_cast<unsigned long long>(failed_), PeakRssMb());
    std::fflush(stdout);
  }

 private:
  void Issue(GroupId g) {
    const auto t0 = SteadyClock::now();
    leaders_[g]->Propose(g, payload_, [this, g, t0](absl::StatusOr<LogIndex> r) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          SteadyClock::now() - t0).count();
      bool again;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (r.ok()) {
          ++ok_;
          lat_us_.push_back(static_cast<uint32_t>(us));
        } else {
          ++failed_;
        }
        again = !stopping_;
        if (!again && --outstanding_ == 0) cv_.notify_all();
      }
      if (again) Issue(g);
    });
  }

  std::map<GroupId, multiraft::MultiRaft*> leaders_;
  const std::string payload_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint32_t> lat_us_;
  uint64_t ok_ = 0, failed_ = 0;
  int outstanding_ = 0;
  bool stopping_ = false;
  double elapsed_s_ = 1;
};

int RunScenario(const Flags& f, const char* name, int groups, size_t payload_bytes,
                int window) {
  const std::string root = f.dir + "/" + name;
  std::filesystem::remove_all(root);
  cluster_testing::LoopbackClusterOptions o;
  o.root_dir = root;
  o.multiraft.tick_ms = 100;
  o.multiraft.election_tick = 10;
  o.storage.sync = f.sync;
  CountingStateMachine sms[3];  // outlive the cluster, whose drivers apply to them
  cluster_testing::LoopbackCluster c(o);
  std::vector<NodeId> members{NodeId(1), NodeId(2), NodeId(3)};
  for (int i = 0; i < 3; ++i) {
    if (!c.StartNode(members[i], &sms[i]).ok()) return 1;
  }
  std::map<GroupId, multiraft::MultiRaft*> leaders;
  for (int g = 1; g <= groups; ++g) {
    if (!c.CreateGroup(GroupId(g), members).ok()) return 1;
  }
  for (int g = 1; g <= groups; ++g) {
    // Spread leadership: campaign on node g % 3, then wait for whoever wins.
    c.node(members[g % 3])->Campaign(GroupId(g));
  }
  for (int g = 1; g <= groups; ++g) {
    const NodeId leader = c.AwaitLeader(GroupId(g), std::chrono::seconds(10));
    if (leader == NodeId(0)) {
      std::fprintf(stderr, "no leader for group %d\n", g);
      return 1;
    }
    // Wait until the leader can take proposals (its own empty entry applied).
    c.node(leader)->AwaitStatus(GroupId(g), [](const multiraft::GroupStatus& s) {
      return s.applied >= s.commit && s.commit > LogIndex(0);
    }, std::chrono::seconds(10));
    leaders[GroupId(g)] = c.node(leader);
  }
  Load load(leaders, payload_bytes);
  const double cpu0 = CpuSeconds();
  load.Run(window, f.seconds);
  load.Report(name, CpuSeconds() - cpu0);
  for (NodeId id : members) c.StopNode(id);  // before `load`, which pending callbacks use
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  sluice::Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--seconds=", 0) == 0) f.seconds = std::atof(a.c_str() + 10);
    else if (a.rfind("--window=", 0) == 0) f.window = std::atoi(a.c_str() + 9);
    else if (a.rfind("--dir=", 0) == 0) f.dir = a.substr(6);
    else if (a == "--nosync") f.sync = false;
    else {
      std::fprintf(stderr, "usage: raft_bench [--seconds=S] [--window=N] [--dir=D] [--nosync]\n");
      return 2;
    }
  }
  std::printf("3 nodes, loopback gRPC, RocksDB %s, window %d outstanding proposals (unless noted), %.1f s each\n",
              f.sync ? "synced" : "NOT synced", f.window, f.seconds);
  std::printf("%-28s %10s %8s %8s %8s %8s %8s %6s %6s\n", "scenario", "entries/s", "MB/s",
              "p50 ms", "p99 ms", "max ms", "cpu s", "failed", "rss MB");
  int rc = 0;
  // Unloaded latency first (one proposal at a time), then throughput under `window`.
  rc |= sluice::RunScenario(f, "1 group, 100 B, window 1", 1, 100, 1);
  rc |= sluice::RunScenario(f, "1 group, 100 B", 1, 100, f.window);
  rc |= sluice::RunScenario(f, "1 group, 4 KiB", 1, 4096, f.window);
  rc |= sluice::RunScenario(f, "64 groups, 100 B", 64, 100, f.window);
  rc |= sluice::RunScenario(f, "64 groups, 4 KiB", 64, 4096, f.window);
  std::filesystem::remove_all(f.dir);
  return rc;
}
