// Crash safety of the commit log.
//   1. Power loss: the database's unsynced writes (applies after the last synced Raft write)
//      are dropped (FaultInjectionFs);
//      every acknowledged record must come back from the Raft log.
//   2. kill -9 of a real process (SIGKILL) while it appends, several times on the same
//      directory: every offset the child acknowledged through a pipe must be there after
//      reopening, with its payload, and offsets stay dense. One round ends with _exit (no
//      destructors: the object dies without a clean shutdown).
//   3. The same for QoS 2 appends and releases: every acknowledged dedup entry is there with
//      its record's offset unless its release was acknowledged, then it is gone.
// The children are this test binary executed again (fork + exec, running only CrashChild.Run),
// not bare forks: a fork of a process that already ran RocksDB inherits its background thread
// pools without their threads, and the child's first flush would wait forever.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "base/status.h"
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

TEST(CrashTest, DatabaseLosesUnsyncedWritesAndRecoversFromRaftLog) {
  auto fs = std::make_shared<testing::FaultInjectionFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = testing::NewFaultInjectionEnv(fs);
  PartitionedLogOptions o = TestOptions(TestDir(), 2);
  o.env = env.get();
  // The applies written after the last synced Raft write are lost at each crash; snapshots
  // and Raft log compaction happen mid-test, so recovery needs both the applied state that
  // was synced with the Raft log and the replay of the Raft log's tail.
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

// ---- SIGKILL tests: children and the parent's side -------------------------------------

// The child's spec travels in this environment variable: "mode dir fd round exit_after".
constexpr char kChildEnv[] = "SLUICE_CRASH_CHILD";
constexpr size_t kAckBytes = 17;  // kind(1) partition(4) offset(8) seq(4), host order

// kind: 1 = append acknowledged, 2 = QoS 2 release acknowledged (offset unused).
void WriteAckOrExit(int fd, uint8_t kind, PartitionId p, Offset off, uint32_t seq) {
  char buf[kAckBytes];
  const uint32_t pv = p.value();
  const uint64_t ov = off.value();
  buf[0] = static_cast<char>(kind);
  std::memcpy(buf + 1, &pv, 4);
  std::memcpy(buf + 5, &ov, 8);
  std::memcpy(buf + 13, &seq, 4);
  if (write(fd, buf, sizeof buf) != sizeof buf) _exit(5);  // < PIPE_BUF: atomic
}

PartitionedLogOptions ChildOptions(const std::string& mode, const std::string& dir) {
  PartitionedLogOptions o = TestOptions(dir, 4);
  o.snapshot_interval_entries = mode == "qos2" ? 300 : 500;
  o.compaction_lag_entries = mode == "qos2" ? 30 : 50;
  return o;
}

// Appends forever, `window` in flight (or `exit_after` acks, then _exit without any shutdown),
// reporting every acknowledged append. Mode "qos2": packet id seq + 1, publisher
// "pub-<round>", and every even seq is released as soon as its append is acknowledged.
[[noreturn]] void RunChild(const std::string& mode, const std::string& dir, int fd,
                           uint32_t round, int exit_after) {
  absl::StatusOr<std::unique_ptr<PartitionedLog>> opened =
      PartitionedLog::Open(ChildOptions(mode, dir));
  if (!opened.ok()) _exit(3);
  PartitionedLog* log = opened->release();  // never destroyed: the process dies
  const bool qos2 = mode == "qos2";
  const int window = qos2 ? 32 : 64;
  const std::string publisher = "pub-" + std::to_string(round);
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  int acks = 0;
  for (uint32_t seq = qos2 ? 0 : round * 1'000'000;; ++seq) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return inflight < window; });
      if (exit_after > 0 && acks >= exit_after) _exit(0);
      ++inflight;
    }
    const std::string topic = "dev/" + std::to_string(seq % 8);
    const PartitionId p = log->PartitionFor(topic);
    Record r = MakeRecord(topic, std::to_string(seq));
    const uint16_t id = qos2 ? static_cast<uint16_t>(seq + 1) : 0;  // < 65536 acks per round
    if (qos2) {
      r.qos = 2;
      r.publisher = publisher;
    }
    log->Append(p, r, id, [&, seq, p, id](absl::StatusOr<Offset> off) {
      if (!off.ok()) _exit(4);
      WriteAckOrExit(fd, 1, p, *off, seq);
      if (id != 0 && seq % 2 == 0) {
        log->ReleaseQos2(p, publisher, id, [fd, p, seq](absl::Status s) {
          if (!s.ok()) _exit(6);
          WriteAckOrExit(fd, 2, p, Offset(0), seq);
        });
      }
      std::lock_guard<std::mutex> l(mu);
      ++acks;
      --inflight;
      cv.notify_one();
    });
  }
}

// Not a test of its own: the body of a child process (skipped in a normal run).
TEST(CrashChild, Run) {
  const char* spec = std::getenv(kChildEnv);
  if (spec == nullptr) GTEST_SKIP() << "runs only as the child of a SIGKILL test";
  std::istringstream in(spec);
  std::string mode, dir;
  int fd = -1, exit_after = 0;
  uint32_t round = 0;
  in >> mode >> dir >> fd >> round >> exit_after;
  if (!in) _exit(2);
  RunChild(mode, dir, fd, round, exit_after);
}

struct Ack {
  uint8_t kind;
  uint32_t partition;
  uint64_t offset;
  uint32_t seq;
};

// Runs `rounds` children on `dir` one after the other. Each is killed with SIGKILL once the
// parent has read a seeded random number of append acks; round 1 instead exits by itself
// (_exit, no destructors) after that many. `on_ack(round, ack)` sees every ack.
void RunChildRounds(const std::string& mode, const std::string& dir, int rounds, uint32_t seed,
                    int kill_min, int kill_span,
                    const std::function<void(int, const Ack&)>& on_ack) {
  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seed = seed * 1103515245 + 12345;
    const int kill_after = kill_min + static_cast<int>((seed >> 8) % kill_span);
    const bool clean_exit = round == 1;
    // Everything the child needs is built before fork: between fork and exec a child of a
    // multi-threaded process may only call async-signal-safe functions.
    const std::string spec = std::string(kChildEnv) + "=" + mode + " " + dir + " " +
                             std::to_string(fds[1]) + " " + std::to_string(round) + " " +
                             std::to_string(clean_exit ? kill_after : 0);
    std::vector<const char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    env.push_back(spec.c_str());
    env.push_back(nullptr);
    const char* argv[] = {"/proc/self/exe", "--gtest_filter=CrashChild.Run", nullptr};
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      execve(argv[0], const_cast<char* const*>(argv), const_cast<char* const*>(env.data()));
      _exit(8);
    }
    close(fds[1]);
    int seen = 0;
    bool killed = false;
    char buf[kAckBytes];
    size_t have = 0;
    while (true) {
      const ssize_t n = read(fds[0], buf + have, sizeof buf - have);
      if (n <= 0) break;  // EOF: the child is gone
      have += n;
      if (have < sizeof buf) continue;
      have = 0;
      Ack a;
      a.kind = static_cast<uint8_t>(buf[0]);
      std::memcpy(&a.partition, buf + 1, 4);
      std::memcpy(&a.offset, buf + 5, 8);
      std::memcpy(&a.seq, buf + 13, 4);
      on_ack(round, a);
      if (a.kind == 1 && ++seen == kill_after && !clean_exit) {
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
}

TEST(CrashTest, SigkillWhileAppendingLosesNoAcknowledgedRecord) {
  const std::string dir = TestDir();
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> acked;  // (partition, offset) -> seq
  RunChildRounds("records", dir, 4, 12345, 300, 1500, [&](int, const Ack& a) {
    EXPECT_TRUE(acked.emplace(std::make_pair(a.partition, a.offset), a.seq).second)
        << "offset reused";
  });
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log =
      PartitionedLog::Open(ChildOptions("records", dir));
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
      if (it != last_seq.end()) {
        EXPECT_GT(seq, it->second) << r.record.topic;
      }
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

TEST(CrashTest, SigkillKeepsAcknowledgedQos2EntriesAndReleases) {
  const std::string dir = TestDir();
  // (publisher, packet id) -> (partition, offset) of acknowledged appends; acknowledged
  // releases.
  std::map<std::pair<std::string, uint16_t>, std::pair<uint32_t, uint64_t>> appended;
  std::set<std::pair<std::string, uint16_t>> released;
  RunChildRounds("qos2", dir, 3, 777, 200, 600, [&](int round, const Ack& a) {
    const auto key = std::make_pair("pub-" + std::to_string(round),
                                    static_cast<uint16_t>(a.seq + 1));
    if (a.kind == 2) {
      EXPECT_TRUE(appended.count(key));
      released.insert(key);
    } else {
      EXPECT_TRUE(appended.emplace(key, std::make_pair(a.partition, a.offset)).second);
    }
  });
  EXPECT_FALSE(released.empty());
  absl::StatusOr<std::unique_ptr<PartitionedLog>> log =
      PartitionedLog::Open(ChildOptions("qos2", dir));
  ASSERT_TRUE(log.ok()) << log.status();
  std::map<std::pair<std::string, uint16_t>, std::pair<uint32_t, uint64_t>> pending;
  for (const PendingQos2& q : ValueOrDie((*log)->ListPendingQos2())) {
    pending[{q.publisher, q.packet_id}] = {q.partition.value(), q.offset.value()};
    // Every entry, acknowledged or not, points at its own record.
    absl::StatusOr<std::vector<StoredRecord>> rec = (*log)->Read(q.partition, q.offset, 1);
    ASSERT_TRUE(rec.ok() && rec->size() == 1) << rec.status();
    EXPECT_EQ(rec->front().record.publisher, q.publisher);
    EXPECT_EQ(std::stoul(rec->front().record.payload) + 1, q.packet_id);
  }
  size_t kept = 0;
  for (const auto& [key, where] : appended) {
    auto it = pending.find(key);
    if (released.count(key)) {
      EXPECT_TRUE(it == pending.end()) << key.first << "/" << key.second << " released";
    } else if (key.second % 2 == 1) {  // odd packet id = even seq: its release may be unacked
      EXPECT_TRUE(it == pending.end() || it->second == where) << key.first << "/" << key.second;
    } else {
      ASSERT_TRUE(it != pending.end()) << key.first << "/" << key.second << " lost";
      EXPECT_EQ(it->second, where);
      ++kept;
    }
  }
  EXPECT_GT(kept, 0u);
}

}  // namespace
}  // namespace sluice::storage
