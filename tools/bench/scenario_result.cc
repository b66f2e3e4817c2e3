// The result of a scenario run (bench.h): one JSON line on stdout, a summary on stderr.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "tools/bench/bench.h"

namespace sluice::bench {

void Bench::PrintResult(bool completed, const std::string& error) {
  const int64_t end_ns = NowNs();
  const double window_s =
      std::max<int64_t>(1, stop_ns_ - measure_start_ns_) / 1e9;
  uint64_t sent = 0, acked = 0, lost = 0, written_off = 0;
  uint64_t publisher_sends = 0, subscriber_sends = 0;
  for (const auto& p : pubs_) {
    sent += p.sent;
    acked += p.acked;
    written_off += p.written_off;
    publisher_sends += p.client->send_calls();
  }
  for (const auto& s : subs_) subscriber_sends += s.client->send_calls();
  for (uint32_t k = 0; k < sinks_.size(); ++k) {
    if (!sinks_[k].alive) continue;
    for (const auto& p : pubs_) {
      if (!SinkExpects(k, p.id)) continue;
      auto it = sinks_[k].by_publisher.find(p.id);
      lost += it == sinks_[k].by_publisher.end() ? p.sent : it->second.Lost(p.sent);
    }
  }
  rusage self;
  getrusage(RUSAGE_SELF, &self);
  const double cpu_s = self.ru_utime.tv_sec + self.ru_stime.tv_sec +
                       (self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  const bool ran = run_start_ns_ > 0;
  const double connect_span_s =
      std::max<int64_t>(1, last_connack_ns_ - first_connect_start_ns_) / 1e9;
  std::string json;
  char buf[256];
  auto num = [&](const char* key, double v) {
    std::snprintf(buf, sizeof buf, "\"%s\":%.6g,", key, v);
    json += buf;
  };
  json += "{\"scenario\":\"" + o_.scenario + "\",\"completed\":" + (completed ? "true" : "false") + ",";
  std::string err = error.empty() ? first_error_ : error;
  for (char& ch : err) if (ch == '"' || ch == '\\') ch = '\'';
  json += "\"error\":\"" + err + "\",";
  num("qos", o_.qos);
  num("payload_bytes", o_.payload_bytes);
  num("rate", o_.rate);
  num("publishers", pubs_.size());
  num("subscribers", subs_.size());
  num("connections", clients_.size());
  num("connect_ok", connect_ok_);
  num("connect_failed", connect_failed_);
  num("disconnects", disconnects_);
  num("connect_rate_per_s", connect_ok_ / connect_span_s);
  num("connect_p50_ns", connect_latency_.Percentile(0.5));
  num("connect_p99_ns", connect_latency_.Percentile(0.99));
  num("connect_max_ns", connect_latency_.max_ns());
  num("window_s", ran ? window_s : 0);
  num("published", sent);
  num("acked", acked);
  num("delivered", deliveries_);
  num("delivered_per_s", ran ? window_deliveries_ / window_s : 0);
  num("published_per_s", ran ? window_publishes_ / window_s : 0);
  // Publishes sent in the measured window and acknowledged (PUBACK / PUBCOMP) during it.
  num("acked_per_s", ran ? window_acks_ / window_s : 0);
  num("window_acked", window_acks_);
  num("window_delivered", window_deliveries_);
  num("lost", lost);
  num("duplicates", duplicates_);
  num("out_of_order", out_of_order_);
  num("stray", stray_);
  num("unique_delivered", deliveries_ - duplicates_);
  num("drain_delivered", drain_deliveries_);
  num("unbatched", o_.unbatched ? 1 : 0);
  num("rate_per_client", devices_ ? o_.rate_per_client_per_s : 0);
  // write syscalls issued by publishers (--unbatched: one per packet, so ~ published + 1)
  num("publisher_send_calls", publisher_sends);
  num("subscriber_send_calls", subscriber_sends);
  num("written_off", written_off);
  num("pace_skipped", pace_skipped_);
  num("e2e_count", e2e_.count());
  num("e2e_p50_ns", e2e_.Percentile(0.5));
  num("e2e_p99_ns", e2e_.Percentile(0.99));
  num("e2e_p999_ns", e2e_.Percentile(0.999));
  num("e2e_max_ns", e2e_.max_ns());
  num("ack_p50_ns", ack_.Percentile(0.5));
  num("ack_p99_ns", ack_.Percentile(0.99));
  num("ack_p999_ns", ack_.Percentile(0.999));
  num("ack_max_ns", ack_.max_ns());
  num("loadgen_cpu_s", cpu_s);
  num("elapsed_s", (end_ns - (first_connect_start_ns_ ? first_connect_start_ns_ : end_ns)) / 1e9);
  json.back() = '}';
  std::fprintf(stderr,
               "%s: %s delivered %.0f msg/s (published %.0f/s, acked %.0f/s) e2e p50 %s p99 %s "
               "p999 %s, ack p50 %s p99 %s; lost %llu dup %llu ooo %llu; connects %llu ok %llu failed "
               "(%.0f/s, p99 %s)%s%s\n",
               o_.scenario.c_str(), completed ? "ok" : "FAILED",
               ran ? window_deliveries_ / window_s : 0.0, ran ? window_publishes_ / window_s : 0.0,
               ran ? window_acks_ / window_s : 0.0,
               FormatNs(e2e_.Percentile(0.5)).c_str(), FormatNs(e2e_.Percentile(0.99)).c_str(),
               FormatNs(e2e_.Percentile(0.999)).c_str(), FormatNs(ack_.Percentile(0.5)).c_str(),
               FormatNs(ack_.Percentile(0.99)).c_str(), static_cast<unsigned long long>(lost),
               static_cast<unsigned long long>(duplicates_),
               static_cast<unsigned long long>(out_of_order_),
               static_cast<unsigned long long>(connect_ok_),
               static_cast<unsigned long long>(connect_failed_), connect_ok_ / connect_span_s,
               FormatNs(connect_latency_.Percentile(0.99)).c_str(), err.empty() ? "" : "; ",
               err.c_str());
  std::printf("result %s\n", json.c_str());
  std::fflush(stdout);
}

}  // namespace sluice::bench
