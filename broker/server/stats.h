// Broker counters. Each shard owns one BrokerStats and increments it from its own thread;
// readers (metrics, admin, $SYS, tests) sum the shards' values at read time, so the publish
// path pays a relaxed atomic add on a cache line no other writer touches — no lock, no
// sharing. Relaxed atomics: counts, not fences (a scrape may see a packet counted before the
// message it carried; every counter is monotonic).
#ifndef SLUICE_BROKER_SERVER_STATS_H_
#define SLUICE_BROKER_SERVER_STATS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "mqtt/codec/packets.h"

namespace sluice::broker {

// A fixed-bucket latency histogram of relaxed atomics, observed in milliseconds (the
// resolution of the broker's monotonic message timestamps) and exported in seconds.
struct LatencyHistogram {
  static constexpr std::array<int64_t, 14> kBoundsMs = {1,   2,    5,    10,   25,    50,    100,
                                                        250, 500, 1000, 2500, 5000, 10000, 30000};
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets{};  // last one: +Inf
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_ms{0};

  void Observe(int64_t ms) {
    if (ms < 0) ms = 0;
    size_t i = 0;
    while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    count.fetch_add(1, std::memory_order_relaxed);
    sum_ms.fetch_add(static_cast<uint64_t>(ms), std::memory_order_relaxed);
  }
};

struct BrokerStats {
  using Counter = std::atomic<uint64_t>;
  Counter connections_accepted{0};
  Counter connections_current{0};
  Counter connect_refused{0};     // every refusal, including accept() failures
  Counter messages_received{0};   // PUBLISH from clients (and wills)
  Counter messages_delivered{0};  // PUBLISH sent to clients
  Counter messages_dropped_queue_full{0};
  Counter messages_dropped_offline_qos0{0};
  Counter messages_dropped_expired{0};
  Counter messages_dropped_too_large{0};
  Counter messages_dropped_write_buffer{0};
  Counter messages_store_failed{0};
  Counter messages_replayed{0};
  // Sessions as consumers of the log (issue 13): deliveries left in the log for a session that
  // was behind or away, read back from it, and records lost to hard retention before a
  // session read them; reads that failed.
  Counter messages_deferred_to_log{0};
  Counter messages_read_from_log{0};
  Counter session_records_lost{0};
  Counter session_read_errors{0};
  Counter session_save_failures{0};  // session records the log did not take  // delivered from the log on SUBSCRIBE with sluice-replay  // QoS 1/2 the commit log could not take: not acked
  Counter publishes_denied{0};
  Counter subscribes_denied{0};
  Counter protocol_errors{0};
  Counter keepalive_timeouts{0};
  Counter sessions_taken_over{0};
  // Cluster session claims (session_claims.h): CONNECTs admitted, refused because the claim
  // failed (0x88) or too many waited (0x89); connections taken over by a newer claim made
  // elsewhere (also in sessions_taken_over); claims waiting now (a gauge per shard).
  Counter claims_admitted{0};
  Counter claims_failed{0};
  Counter claims_busy{0};
  Counter claims_taken_over{0};
  Counter claims_waiting{0};
  Counter sessions_expired{0};
  Counter wills_published{0};

  // For the metrics exporter (broker/admin/metrics.cc). Indexed by MQTT packet type (1..15),
  // QoS (0..2) or CONNACK reason code.
  std::array<Counter, 16> packets_received{};
  std::array<Counter, 16> packets_sent{};
  Counter bytes_received{0};
  Counter bytes_sent{0};
  std::array<Counter, 3> messages_received_qos{};
  std::array<Counter, 3> messages_delivered_qos{};
  std::array<Counter, 256> connect_refused_reason{};
  Counter clients_kicked{0};
  // Security and limits (issue 8; connection_security.cc). Accept-time refusals are counted
  // by net::Admission (Security::admission_counts), handshake failures by the listeners.
  Counter auth_failures{0};             // bad user name/password, missing certificate identity
  Counter publishes_denied_acl{0};      // also counted in publishes_denied
  Counter subscribes_denied_acl{0};     // also counted in subscribes_denied
  Counter publishes_rate_limited{0};    // max_publish_rate / max_publish_bytes_rate
  Counter subscriptions_refused_limit{0};  // max_subscriptions_per_client
  Counter topics_refused_limit{0};      // max_topic_length / max_topic_levels
  Counter user_properties_refused_limit{0};  // packets over max_user_properties
  // Broker receipt of a PUBLISH -> its copy handed to a subscriber's connection.
  LatencyHistogram delivery_latency;
  // Broker receipt of a QoS 1/2 PUBLISH -> the subscriber's PUBACK / PUBCOMP for its copy.
  LatencyHistogram ack_latency;
  // Broker receipt of a QoS 1/2 PUBLISH -> its PUBACK/PUBREC ready (stored in the log).
  LatencyHistogram publish_ack_latency;

  static void Inc(Counter& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  static void Dec(Counter& c) { c.fetch_sub(1, std::memory_order_relaxed); }

  void CountSent(const mqtt::Packet& p) { Inc(packets_sent[PacketTypeOf(p)]); }
  void CountReceived(mqtt::PacketType type) { Inc(packets_received[static_cast<size_t>(type) & 15]); }
  // Observes ack_latency for a session's inflight `packet_id` (before the ack removes it).
  // Acks mostly come in send order, so the search usually stops at the first entry. A
  // template so that this header does not depend on the session module.
  template <typename SessionT>
  void ObserveAck(const SessionT& session, uint16_t packet_id, int64_t now_ms) {
    for (const auto& e : session.inflight_entries()) {
      if (e.packet_id != packet_id) continue;
      if (e.delivery.message) ack_latency.Observe(now_ms - e.delivery.message->received_ms);
      return;
    }
  }
  static size_t PacketTypeOf(const mqtt::Packet& p) {
    if (const auto* ack = std::get_if<mqtt::Ack>(&p)) return static_cast<size_t>(ack->type) & 15;
    // Variant order: Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
    // Unsuback, Pingreq, Pingresp, Disconnect, Auth.
    static constexpr uint8_t kTypes[] = {1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15};
    return kTypes[p.index()];
  }
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_STATS_H_
