// log_bench: throughput and latency of the commit log against a plain synced RocksDB write
// loop on the same disk, and the time to reopen a log after kill -9. A binary, not a test.
//
//   log_bench --mode=throughput [--seconds=3] [--dir=/tmp/sluice_log_bench] [--nosync]
//   log_bench --mode=recovery [--records=1000000] [--partitions=16] [--dir=...]
//
// Throughput: closed loop, `--appenders` threads each keeping `--window` appends in flight
// (latency = Append call -> completion callback). CPU-seconds are the process's user+sys time
// during the scenario; peak RSS is the process maximum so far.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/log/partitioned_log.h"

namespace sluice::storage {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string mode = "throughput";
  std::string dir = "/tmp/sluice_log_bench";
  double seconds = 3;
  uint64_t records = 1'000'000;
  uint32_t partitions = 16;
  int appenders = 8;
  int window = 32;
  uint64_t memory_budget_mb = 16;
  bool sync = true;
  bool only_log = false;  // only the many-appender log scenario (for before/after runs)
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char* v = val("--mode=")) f.mode = v;
    else if (const char* v = val("--dir=")) f.dir = v;
    else if (const char* v = val("--seconds=")) f.seconds = std::stod(v);
    else if (const char* v = val("--records=")) f.records = std::stoull(v);
    else if (const char* v = val("--partitions=")) f.partitions = std::stoul(v);
    else if (const char* v = val("--appenders=")) f.appenders = std::stoi(v);
    else if (const char* v = val("--window=")) f.window = std::stoi(v);
    else if (const char* v = val("--memory-budget-mb=")) f.memory_budget_mb = std::stoull(v);
    else if (a == "--nosync") f.sync = false;
    else if (a == "--only-log") f.only_log = true;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      std::exit(2);
    }
  }
  return f;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

struct Result {
  uint64_t ops = 0;
  double seconds = 0;
  double cpu = 0;
  std::vector<double> latencies_ms;
  uint64_t syncs = 0;  // synced writes (log: Raft group commits)
  uint64_t disk_bytes = 0;  // bytes the process wrote to storage during the scenario
};

// /proc/self/io write_bytes: what this process (all threads) caused to be written to disk.
uint64_t ProcWriteBytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return 0;
  char line[128];
  uint64_t v = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "write_bytes:", 12) == 0) v = std::strtoull(line + 12, nullptr, 10);
  }
  std::fclose(f);
  return v;
}

void Print(const char* name, size_t bytes, const Result& r) {
  std::vector<double> l = r.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double q) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, size_t(q * l.size()))]; };
  const double ops = r.ops / r.seconds;
  std::printf("| %-34s | %5zu | %9.0f | %6.1f | %6.2f | %6.2f | %6.2f | %5.2f | %6.1f | %4ld | %6.1f | %6.0f |\n",
              name, bytes, ops, ops * bytes / 1e6, pct(0.5), pct(0.99), l.empty() ? 0 : l.back(),
              r.cpu, r.syncs ? double(r.ops) / r.syncs : 0.0, PeakRssMb(),
              r.ops ? r.cpu * 1e6 / r.ops : 0.0, r.ops ? double(r.disk_bytes) / r.ops : 0.0);
  std::fflush(stdout);
}

// Closed loop over `appenders` threads with `window` in flight each; `op(done)` starts one
// operation and calls done() when it completes (on any thread).
template <typename Op>
Result ClosedLoop(const Flags& f, int appenders, int window, Op op) {
  Result r;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::mutex lat_mu;
  std::vector<double> lat;
  lat.reserve(4'000'000);
  const double cpu0 = CpuSeconds();
  const uint64_t disk0 = ProcWriteBytes();
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] {
      std::mutex mu;
      std::condition_variable cv;
      int inflight = 0;
      uint64_t seq = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return inflight < window; });
          ++inflight;
        }
        const auto start = Clock::now();
        op(t, seq++, [&, start] {
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          {
            std::lock_guard<std::mutex> l(lat_mu);
            lat.push_back(ms);
          }
          ops.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard<std::mutex> l(mu);
          --inflight;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return inflight == 0; });
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(f.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.cpu = CpuSeconds() - cpu0;
  r.disk_bytes = ProcWriteBytes() - disk0;
  r.ops = ops.load();
  r.latencies_ms = std::move(lat);
  return r;
}

Result BenchLog(const Flags& f, size_t payload_bytes, int appenders, int window) {
  const std::string dir = f.dir + "/log";
  std::filesystem::remove_all(dir);
  PartitionedLogOptions o;
  o.dir = dir;
  o.partitions = f.partitions;
  o.sync = f.sync;
  o.retention = {};
  o.memory_budget_bytes = f.memory_budget_mb << 20;
  auto log = PartitionedLog::Open(o);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(log.status().message()).c_str());
    std::exit(1);
  }
  PartitionedLog* l = log->get();
  const std::string payload(payload_bytes, 'x');
  const uint64_t writes0 = l->stats().raft_writes;
  Result r = ClosedLoop(f, appenders, window, [&](int t, uint64_t seq, auto done) {
    Record rec;
    rec.topic = "bench/" + std::to_string(t) + "/" + std::to_string(seq % 64);
    rec.payload = payload;
    rec.qos = 1;
    rec.publisher = "bench-" + std::to_string(t);
    l->Append(l->PartitionFor(rec.topic), rec, [done](absl::StatusOr<Offset> off) {
      if (!off.ok()) {
        std::fprintf(stderr, "append failed: %s\n", std::string(off.status().message()).c_str());
        std::exit(1);
      }
      done();
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let stats publish
  r.syncs = l->stats().raft_writes - writes0;
  return r;
}

// The limit to approach: RocksDB's own synced Put loop (its write group commit batches the
// concurrent writers' WAL records into one fsync), one key per record, same value size.
Result BenchRocksDb(const Flags& f, size_t value_bytes, int writers) {
  const std::string dir = f.dir + "/rocksdb";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 64 << 20;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "rocksdb open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(value_bytes, 'x');
  rocksdb::WriteOptions wo;
  wo.sync = f.sync;
  // One blocking Put per thread at a time: `writers` threads = `writers` in flight.
  std::atomic<uint64_t> seq{0};
  return ClosedLoop(f, writers, 1, [&](int t, uint64_t, auto done) {
    char key[16];
    const uint64_t k = seq.fetch_add(1);
    std::memcpy(key, &k, 8);
    if (!db->Put(wo, rocksdb::Slice(key, 8), value).ok()) std::exit(1);
    done();
  });
}

int Throughput(const Flags& f) {
  std::printf("| scenario | payload B | records/s | MB/s | p50 ms | p99 ms | max ms | CPU s | "
              "records/fsync | peak RSS MB | CPU us/record | disk B/record |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t bytes : {size_t{100}, size_t{1024}}) {
    if (!f.only_log) {
      Result r = BenchRocksDb(f, bytes, 1);
      r.syncs = r.ops;
      Print("rocksdb Put sync, 1 writer", bytes, r);
    }
    if (!f.only_log) {
      Print("rocksdb Put sync, 64 writers", bytes, BenchRocksDb(f, bytes, 64));
      Print("log, 1 appender, 1 in flight", bytes, BenchLog(f, bytes, 1, 1));
    }
    char name[64];
    std::snprintf(name, sizeof name, "log, %d appenders x %d in flight", f.appenders, f.window);
    Print(name, bytes, BenchLog(f, bytes, f.appenders, f.window));
  }
  std::filesystem::remove_all(f.dir);
  return 0;
}

// Fills a log with `records` records in a child process that then kills itself with SIGKILL
// (no shutdown at all), and times reopening it in this process; then a clean close and reopen.
int Recovery(const Flags& f) {
  const std::string dir = f.dir + "/recovery";
  std::filesystem::remove_all(dir);
  PartitionedLogOptions o;
  o.dir = dir;
  o.partitions = f.partitions;
  o.retention = {};
  o.memory_budget_bytes = f.memory_budget_mb << 20;
  const auto fill0 = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    auto log = PartitionedLog::Open(o);
    if (!log.ok()) _exit(3);
    PartitionedLog* l = log->release();
    std::atomic<uint64_t> done{0};
    std::atomic<int> inflight{0};
    const std::string payload(100, 'x');
    for (uint64_t i = 0; i < f.records; ++i) {
      while (inflight.load() >= 512) std::this_thread::sleep_for(std::chrono::microseconds(100));
      Record rec;
      rec.topic = "dev/" + std::to_string(i % 1000);
      rec.payload = payload;
      rec.qos = 1;
      ++inflight;
      l->Append(l->PartitionFor(rec.topic), rec, [&](absl::StatusOr<Offset> off) {
        if (!off.ok()) _exit(4);
        ++done;
        --inflight;
      });
    }
    while (done.load() < f.records) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    raise(SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double fill_s = std::chrono::duration<double>(Clock::now() - fill0).count();
  if (!WIFSIGNALED(status)) {
    std::fprintf(stderr, "filler failed: %d\n", status);
    return 1;
  }
  uint64_t dir_bytes = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) dir_bytes += e.file_size();
  }
  std::printf("filled %llu records of 100 B in %u partitions in %.1f s (%.0f/s), %.1f MB on disk, "
              "then SIGKILL\n",
              (unsigned long long)f.records, f.partitions, fill_s, f.records / fill_s, dir_bytes / 1e6);
  for (const char* what : {"reopen after SIGKILL", "reopen after clean close"}) {
    const auto t0 = Clock::now();
    auto log = PartitionedLog::Open(o);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!log.ok()) {
      std::fprintf(stderr, "reopen: %s\n", std::string(log.status().message()).c_str());
      return 1;
    }
    uint64_t total = 0;
    for (uint32_t p = 0; p < f.partitions; ++p) total += (*log)->Info(PartitionId(p))->high_watermark.value();
    std::printf("%s: %.3f s, %llu records present, peak RSS %ld MB\n", what, s,
                (unsigned long long)total, PeakRssMb());
    if (total != f.records) return 1;
  }
  std::filesystem::remove_all(f.dir);
  return 0;
}

}  // namespace
}  // namespace sluice::storage

int main(int argc, char** argv) {
  const sluice::storage::Flags f = sluice::storage::Parse(argc, argv);
  if (f.mode == "throughput") return sluice::storage::Throughput(f);
  if (f.mode == "recovery") return sluice::storage::Recovery(f);
  std::fprintf(stderr, "--mode=throughput|recovery\n");
  return 2;
}
