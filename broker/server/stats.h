// Broker counters. Each shard owns one BrokerStats and increments it from its own thread;
// readers (metrics, admin, tests) sum the shards' values. Relaxed atomics: counts, not fences.
#ifndef SLUICE_BROKER_SERVER_STATS_H_
#define SLUICE_BROKER_SERVER_STATS_H_

#include <atomic>
#include <cstdint>

namespace sluice::broker {

struct BrokerStats {
  using Counter = std::atomic<uint64_t>;
  Counter connections_accepted{0};
  Counter connections_current{0};
  Counter connect_refused{0};
  Counter messages_received{0};   // PUBLISH from clients (and wills)
  Counter messages_delivered{0};  // PUBLISH sent to clients
  Counter messages_dropped_queue_full{0};
  Counter messages_dropped_offline_qos0{0};
  Counter messages_dropped_expired{0};
  Counter messages_dropped_too_large{0};
  Counter messages_dropped_write_buffer{0};
  Counter publishes_denied{0};
  Counter subscribes_denied{0};
  Counter protocol_errors{0};
  Counter keepalive_timeouts{0};
  Counter sessions_taken_over{0};
  Counter sessions_expired{0};
  Counter wills_published{0};

  static void Inc(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  static void Dec(Counter& c) { c.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_STATS_H_
