// Scenario: one load-generator run against one broker, named after EMQ's open MQTT
// benchmark suite:
//   p2p      N publisher/subscriber pairs, one topic per pair
//   fan-in   P publishers -> S subscribers, each subscriber takes every topic (a wildcard);
//            S = 0: publishers only, each bounded by its QoS 1/2 inflight window (durable
//            publish -> PUBACK throughput)
//   shared   P publishers -> one $share group of S members (each message to one member)
//   fan-out  P publishers -> S subscribers of the same topic(s) (topic = index % topics)
//   conn     a connection storm: N connects at a rate, then idle with keep alive
//   devices  N clients each publishing at a fixed rate (rate_per_client) to its own topic
//            bench/dev/<i>/telemetry, spread evenly over time (pacing.h SpreadPacer), to S
//            wildcard subscribers of bench/dev/+/telemetry (each gets everything)
//   slow-subscriber  P publishers as fast as their QoS 1/2 inflight windows allow (no
//            delivery window) -> S subscribers of bench/in/+ that read their sockets at
//            most subscriber_read_bytes_per_s during the run; the drain phase reads at full
//            speed, so `lost` is what the broker dropped, not what was still in transit
// Publishing is either paced (rate = total publishes/s over all publishers, round-robin;
// devices: per client) or closed-loop at the maximum rate: each publisher keeps at most
// `window` messages not yet delivered to all of its subscribers, so a saturated broker is
// measured rather than its queue limits. `unbatched` makes every client write one packet
// per send() (client.h), whatever the scenario.
//
// Progress is printed to stdout as lines "phase NAME" (connected, measure, stop, idle) so a
// harness can sample the broker at those moments; the last line is "result {json}".
// Bounded: connection setup, the run and the drain each have a deadline.
// Thread-compatible: Run() drives a single-threaded io_context.
#ifndef SLUICE_TOOLS_BENCH_SCENARIO_H_
#define SLUICE_TOOLS_BENCH_SCENARIO_H_

#include <cstdint>
#include <string>

#include "base/config.h"

namespace sluice::bench {

struct ScenarioOptions {
  std::string scenario = "p2p";
  std::string broker = "127.0.0.1:1883";
  std::string subscriber_broker;  // subscribers connect here ("" = broker): a cluster's other node
  int64_t clients = 100;        // p2p: pairs; conn: connections
  int64_t publishers = 10;      // fan-in, shared, fan-out
  int64_t subscribers = 1;      // fan-in, shared (group members), fan-out; 0: publishers only
  int64_t topics = 1;           // fan-in, shared, fan-out
  int64_t qos = 1;
  int64_t payload_bytes = 16;   // at least 16: publisher id, sequence, send time
  int64_t rate = 0;             // total publishes/s; 0 = maximum rate (closed loop)
  int64_t window = 16;          // maximum rate: undelivered messages per publisher
  int64_t inflight = 100;       // QoS 1/2: unacknowledged publishes per publisher
  int64_t duration_s = 10;
  int64_t messages = 0;         // per publisher; 0 = until duration_s
  int64_t warmup_ms = 1000;     // excluded from throughput and latency
  int64_t drain_ms = 3000;      // after the run, wait this long at most for stragglers
  std::string mqtt_version = "3.1.1";
  int64_t keep_alive_s = 60;
  int64_t connect_rate = 0;     // connects/s; 0 = as fast as connect_concurrency allows
  int64_t connect_concurrency = 256;
  int64_t connect_timeout_ms = 10'000;
  int64_t setup_timeout_s = 120;  // all connections and subscriptions must be up by then
  int64_t idle_s = 10;          // conn: how long to hold the connections
  int64_t source_addresses = 8; // 127.0.0.1 .. 127.0.0.N
  std::string shared_group = "bench";
  std::string topic_prefix = "bench";
  bool unbatched = false;       // one MQTT packet per send() syscall, for every client
  std::string rate_per_client = "1";  // devices: publishes/s per client (decimal, > 0)
  int64_t subscriber_read_bytes_per_s = 0;  // > 0: subscribers read this slowly in the run
  int64_t subscriber_rcvbuf_bytes = 0;      // > 0: subscribers' SO_RCVBUF (no autotuning)

  double rate_per_client_per_s = 1.0;  // rate_per_client parsed (by the validator)

  void Register(ConfigSchema* schema);
};

// Runs the scenario to the end and prints phases and the result to stdout. Returns the
// process exit code: 0 when the run completed (losses are reported, not failures), 1 when it
// could not (setup failed or timed out), 2 for bad options.
int RunScenario(const ScenarioOptions& options);

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_SCENARIO_H_
