// Bridge benchmark against librdkafka's mock cluster (3 brokers, in this process):
//   backlog: N records already in the log, then the bridge starts — drain throughput.
//   live:    appenders write N records while the bridge runs — throughput and end-to-end
//            latency from the append's completion (when the broker would send PUBACK) to the
//            Kafka delivery report.
// Prints messages/s, MB/s (payload bytes), p50/p99 latency, CPU seconds and peak RSS. The CPU
// figure is the whole process: log (Raft + RocksDB), bridge, librdkafka and the mock brokers.
//   bridge_bench --records=200000 --payload=100 --partitions=16 --appenders=8 --window=64
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bridge/testing/mock_kafka.h"
#include "bridge/worker/mqtt_to_kafka.h"
#include "storage/log/partitioned_log.h"

namespace sluice::bridge {
namespace {

struct Flags {
  int64_t records = 200'000;
  int64_t payload = 100;
  int64_t partitions = 16;
  int64_t appenders = 8;
  int64_t window = 64;
  std::string dir = "/tmp/sluice_bridge_bench";
  std::string linger_ms = "5";
};

constexpr int64_t kWarmup = 2000;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long PeakRssMb() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

storage::Record MakeRecord(int64_t i, const std::string& payload) {
  storage::Record r;
  r.topic = "devices/d" + std::to_string(i % 1000) + "/temp";
  r.payload = payload;
  r.qos = 1;
  r.publisher = "d" + std::to_string(i % 1000);
  return r;
}

// Appends [begin, end) from `threads` threads with `window` appends in flight each; calls
// done(partition, offset) on the log's driver thread for each completion.
void AppendAll(storage::PartitionedLog& log, int64_t count, int threads, int window,
               const std::string& payload,
               const std::function<void(PartitionId, Offset)>& done) {
  std::atomic<int64_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      std::atomic<int> inflight{0};
      std::mutex mu;
      std::condition_variable cv;
      while (true) {
        int64_t i = next.fetch_add(1);
        if (i >= count) break;
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return inflight.load() < window; });
        }
        ++inflight;
        storage::Record r = MakeRecord(i, payload);
        PartitionId p = log.PartitionFor(r.topic);
        log.Append(p, r, [&, p](absl::StatusOr<Offset> off) {
          if (off.ok()) done(p, *off);
          {
            std::lock_guard<std::mutex> l(mu);
            --inflight;
          }
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return inflight.load() == 0; });
    });
  }
  for (auto& t : ts) t.join();
}

BridgeConfig Config(const std::string& bootstrap, const Flags& f) {
  BridgeConfig c;
  c.kafka.bootstrap_servers = bootstrap;
  c.kafka.properties = {{"linger.ms", f.linger_ms}, {"log_level", "3"}};
  c.limits.idle_poll_ms = 5;
  MqttToKafkaRule rule;
  rule.name = "bench";
  rule.filters = {"devices/#"};
  rule.kafka_topic = *Template::Parse("telemetry", Template::Kind::kKafkaTopic);
  rule.key = {KeySource::kTopic};
  c.mqtt_to_kafka.push_back(std::move(rule));
  return c;
}

int Run(const Flags& f) {
  auto kafka = testing::MockKafka::Start(3);
  if (!kafka.ok()) return 1;
  (void)(*kafka)->CreateTopic("telemetry", 12);
  const std::string payload(f.payload, 'x');
  std::printf("records=%ld payload=%ldB partitions=%ld appenders=%ld window=%ld linger.ms=%s\n",
              (long)f.records, (long)f.payload, (long)f.partitions, (long)f.appenders, (long)f.window,
              f.linger_ms.c_str());
  std::printf("| scenario | msgs/s | MB/s | p50 ms | p99 ms | CPU s | peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|\n");

  for (const char* mode : {"backlog", "live"}) {
    std::filesystem::remove_all(f.dir);
    storage::PartitionedLogOptions lo;
    lo.dir = f.dir;
    lo.partitions = static_cast<uint32_t>(f.partitions);
    lo.retention = {};
    auto log = storage::PartitionedLog::Open(lo);
    if (!log.ok()) {
      std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
      return 1;
    }
    const bool live = std::strcmp(mode, "live") == 0;
    // Completion times per (partition, offset): written by the log's driver thread, read by
    // the bridge thread (a record can be readable just before its append callback runs: then
    // it is not sampled).
    std::vector<std::unique_ptr<std::atomic<int64_t>[]>> appended(f.partitions);
    for (auto& a : appended) {
      a.reset(new std::atomic<int64_t>[f.records + kWarmup + 1]);
      for (int64_t i = 0; i <= f.records + kWarmup; ++i) a[i].store(0, std::memory_order_relaxed);
    }
    std::vector<int64_t> latencies_us;
    latencies_us.reserve(f.records);
    std::atomic<int64_t> delivered{0};
    std::atomic<bool> measuring{false};
    std::atomic<int64_t> last_delivery_us{0};
    std::mutex done_mu;
    std::condition_variable done_cv;
    auto on_append = [&](PartitionId p, Offset o) {
      appended[p.value()][o.value()].store(NowUs(), std::memory_order_release);
    };
    if (!live) AppendAll(**log, f.records, (int)f.appenders, (int)f.window, payload, on_append);
    MqttToKafkaBridge* bridge_ptr = nullptr;
    MqttToKafkaOptions o;
    o.config = Config((*kafka)->bootstrap_servers(), f);
    o.log = log->get();
    o.on_delivered = [&](PartitionId p, Offset off) {
      int64_t now = NowUs();
      int64_t t = appended[p.value()][off.value()].load(std::memory_order_acquire);
      if (live && t > 0 && measuring.load()) latencies_us.push_back(now - t);
      last_delivery_us = now;
      if (delivered.fetch_add(1) + 1 == f.records + (live ? kWarmup : 0)) {
        std::lock_guard<std::mutex> l(done_mu);
        done_cv.notify_all();
      }
    };
    // Distinct topic per scenario run so the counts do not mix.
    o.config.mqtt_to_kafka[0].kafka_topic = *Template::Parse(std::string("telemetry-") + mode, Template::Kind::kKafkaTopic);
    (void)(*kafka)->CreateTopic(std::string("telemetry-") + mode, 12);
    double cpu0 = CpuSeconds();
    int64_t t0 = NowUs();
    auto bridge = MqttToKafkaBridge::Start(std::move(o));
    if (!bridge.ok()) {
      std::fprintf(stderr, "%s\n", bridge.status().ToString().c_str());
      return 1;
    }
    bridge_ptr = bridge->get();
    if (live) {
      // Warm-up: the producer connects, fetches metadata and its idempotent producer id.
      AppendAll(**log, kWarmup, 1, 64, payload, on_append);
      bridge_ptr->Notify();
      (*bridge)->WaitForStatus([&](const std::vector<WorkerStatus>&) { return delivered.load() >= kWarmup; }, 30'000);
      measuring = true;
      cpu0 = CpuSeconds();
      t0 = NowUs();
      AppendAll(**log, f.records, (int)f.appenders, (int)f.window, payload, [&](PartitionId p, Offset off) {
        on_append(p, off);
        bridge_ptr->Notify();
      });
    }
    {
      std::unique_lock<std::mutex> l(done_mu);
      done_cv.wait_for(l, std::chrono::seconds(300), [&] { return delivered.load() >= f.records + (live ? kWarmup : 0); });
    }
    double secs = (last_delivery_us.load() - t0) / 1e6;
    double cpu = CpuSeconds() - cpu0;
    bridge->reset();
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double q) {
      if (latencies_us.empty()) return 0.0;
      return latencies_us[std::min<size_t>(latencies_us.size() - 1, q * latencies_us.size())] / 1000.0;
    };
    double rate = (delivered.load() - (live ? kWarmup : 0)) / secs;
    std::string lat_p50 = live ? std::to_string(pct(0.50)).substr(0, 6) : "–";
    std::string lat_p99 = live ? std::to_string(pct(0.99)).substr(0, 6) : "–";
    std::printf("| %s | %.0f | %.2f | %s | %s | %.2f | %ld |\n", mode, rate, rate * f.payload / 1e6,
                lat_p50.c_str(), lat_p99.c_str(), cpu, PeakRssMb());
    std::fflush(stdout);
    if (delivered.load() < f.records + (live ? kWarmup : 0)) std::fprintf(stderr, "only %ld delivered\n", (long)delivered.load());
  }
  std::filesystem::remove_all(f.dir);
  return 0;
}

}  // namespace
}  // namespace sluice::bridge

int main(int argc, char** argv) {
  sluice::bridge::Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "usage: bridge_bench --records=N --payload=B --partitions=P --appenders=A --window=W --linger_ms=L --dir=D\n");
      return 2;
    }
    std::string k = a.substr(2, eq - 2), v = a.substr(eq + 1);
    if (k == "records") f.records = std::stoll(v);
    else if (k == "payload") f.payload = std::stoll(v);
    else if (k == "partitions") f.partitions = std::stoll(v);
    else if (k == "appenders") f.appenders = std::stoll(v);
    else if (k == "window") f.window = std::stoll(v);
    else if (k == "linger_ms") f.linger_ms = v;
    else if (k == "dir") f.dir = v;
    else {
      std::fprintf(stderr, "unknown flag --%s\n", k.c_str());
      return 2;
    }
  }
  return sluice::bridge::Run(f);
}
