// Crash safety of the commit log.
//   1. Power loss of the records database: its unsynced writes are dropped (FaultInjectionFs);
//      every acknowledged record must come back from the Raft log.
//   2. kill -9 of a real process (fork + SIGKILL) while it appends, several times on the same
//      directory: every offset the child acknowledged through a pipe must be there after
//      reopening, with its payload, and offsets stay dense. One round ends with _exit (no
//      destructors: the object dies without a clean shutdown).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "rocksdb/file_system.h"
#include "storage/log/partitioned_log.h"
#include "storage/testing/fault_injection_env.h"
#include "storage/testing/log_fixture.h"

namespace sluice::storage {
namespace {

using testing::MakeRecord;
using testing::TestDir;
using testing::TestOptions;

TEST(CrashTest, RecordsDatabaseLosesUnsyncedWritesAndRecoversFromRaftLog) {
  auto fs = std::make_shared<testing::FaultInjectionFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = testing::NewFaultInjectionEnv(fs);
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.records_env = env.get();
  // Snapshots (which sync the records database) and Raft log compaction happen mid-test, so
  // recovery needs both the synced part of the records database and the Raft log's tail.
  o.snapshot_interval_entries = 40;
  o.compaction_lag_entries = 5;
  std::map<std::pair<uint32_t, uint64_t>, std::string> acked;
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 150; ++i) {
      const PartitionId p(i % 2);
      const std::string payload = std::to_string(round) + "/" + std::to_string(i);
      absl::StatusOr<Offset> off = (*log)->Append(p, MakeRecord("t", payload)).get();
      ASSERT_TRUE(off.ok()) << off.status();
      acked[{p.value(), off->value()}] = payload;
    }
    ASSERT_TRUE((*log)->CommitCursor(PartitionId(1), "c", Offset(round * 75 + 10)).ok());
    fs->Crash();
    log->reset();
    EXPECT_GT(fs->DropUnsyncedData(), 0u);
  }
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  for (uint32_t p = 0; p < 2; ++p) {
    absl::StatusOr<std::vector<StoredRecord>> recs = (*log)->Read(PartitionId(p), Offset(0), 10'000);
    ASSERT_TRUE(recs.ok()) << recs.status();
    ASSERT_EQ(recs->size(), 225u);
    for (const StoredRecord& r : *recs) {
      EXPECT_EQ(r.record.payload, acked[std::make_pair(p, r.offset.value())])
          << p << "@" << r.offset;
    }
  }
  EXPECT_EQ((*log)->GetCursor(PartitionId(1), "c")->offset, Offset(160));
}

// Child side of the SIGKILL test: appends forever (or `exit_after` acks, then _exit without
// any shutdown), writing partition(4) offset(8) seq(4) to `fd` for every acknowledged append.
[[noreturn]] void RunChild(const PartitionedLogOptions& o, int fd, uint32_t round,
                           int exit_after) {
  absl::StatusOr<std::unique_ptr<PartitionedLog>> opened = PartitionedLog::Open(o);
  if (!opened.ok()) _exit(3);
  PartitionedLog* log = opened->release();  // never destroyed: the process dies
  std::atomic<int> inflight{0};
  std::atomic<int> acks{0};
  for (uint32_t seq = round * 1'000'000;; ++seq) {
    while (inflight.load() >= 64) std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (exit_after > 0 && acks.load() >= exit_after) _exit(0);
    const std::string topic = "dev/" + std::to_string(seq % 8);
    ++inflight;
    log->Append(log->PartitionFor(topic), MakeRecord(topic, std::to_string(seq)),
                [&, seq, p = log->PartitionFor(topic)](absl::StatusOr<Offset> off) {
                  if (!off.ok()) _exit(4);
                  char buf[16];
                  const uint32_t pv = p.value();
                  const uint64_t ov = off->value();
                  std::memcpy(buf, &pv, 4);
                  std::memcpy(buf + 4, &ov, 8);
                  std::memcpy(buf + 12, &seq, 4);
                  if (write(fd, buf, sizeof buf) != sizeof buf) _exit(5);
                  ++acks;
                  --inflight;
                });
  }
}

TEST(CrashTest, SigkillWhileAppendingLosesNoAcknowledgedRecord) {
  PartitionedLogOptions o = TestOptions(TestDir(), 4);
  o.snapshot_interval_entries = 500;
  o.compaction_lag_entries = 50;
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> acked;
  uint32_t seed = 12345;
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seed = seed * 1103515245 + 12345;
    const int kill_after = 300 + static_cast<int>((seed >> 8) % 1500);
    const bool clean_exit = round == 1;  // this round exits without shutdown instead
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(o, fds[1], round, clean_exit ? kill_after : 0);
    }
    close(fds[1]);
    int seen = 0;
    bool killed = false;
    char buf[16];
    size_t have = 0;
    while (true) {
      const ssize_t n = read(fds[0], buf + have, sizeof buf - have);
      if (n <= 0) break;  // EOF: the child is gone
      have += n;
      if (have < sizeof buf) continue;
      have = 0;
      uint32_t p, seq;
      uint64_t off;
      std::memcpy(&p, buf, 4);
      std::memcpy(&off, buf + 4, 8);
      std::memcpy(&seq, buf + 12, 4);
      EXPECT_TRUE(acked.emplace(std::make_pair(p, off), seq).second) << "offset reused";
      if (++seen == kill_after && !clean_exit) {
        kill(pid, SIGKILL);
        killed = true;
      }
    }
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (killed) {
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    } else {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
    EXPECT_GE(seen, kill_after) << "round " << round;
  }
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log = PartitionedLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status();
  size_t found = 0;
  for (uint32_t p = 0; p < 4; ++p) {
    absl::StatusOr<std::vector<StoredRecord>> recs =
        (*log)->Read(PartitionId(p), Offset(0), 1'000'000);
    ASSERT_TRUE(recs.ok()) << recs.status();  // dense: a hole would be DataLoss
    std::map<std::string, uint32_t> last_seq;  // per topic, seqs increase
    for (const StoredRecord& r : *recs) {
      const uint32_t seq = static_cast<uint32_t>(std::stoul(r.record.payload));
      auto it = last_seq.find(r.record.topic);
      if (it != last_seq.end()) EXPECT_GT(seq, it->second) << r.record.topic;
      last_seq[r.record.topic] = seq;
      auto a = acked.find({p, r.offset.value()});
      if (a != acked.end()) {
        EXPECT_EQ(a->second, seq) << p << "@" << r.offset;
        ++found;
      }
    }
  }
  EXPECT_EQ(found, acked.size()) << "acknowledged records missing after kill -9";
}

}  // namespace
}  // namespace sluice::storage
