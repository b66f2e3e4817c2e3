#include "broker/admin/metrics.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "broker/admin/metric_family.h"

namespace sluice::admin {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

uint64_t Load(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

// Sums one counter over every shard.
template <typename Get>
uint64_t Sum(broker::Broker* b, Get get) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < b->shard_count(); ++i) total += Load(get(b->shard(i).stats()));
  return total;
}

MetricFamily Histogram(std::string name, std::string help, broker::Broker* b,
                       broker::LatencyHistogram broker::BrokerStats::*member) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric m;
  const auto& bounds = broker::LatencyHistogram::kBoundsMs;
  std::vector<uint64_t> counts(bounds.size() + 1, 0);
  uint64_t count = 0, sum_ms = 0;
  for (uint32_t i = 0; i < b->shard_count(); ++i) {
    const broker::LatencyHistogram& h = b->shard(i).stats().*member;
    for (size_t j = 0; j < counts.size(); ++j) counts[j] += Load(h.buckets[j]);
    count += Load(h.count);
    sum_ms += Load(h.sum_ms);
  }
  uint64_t cumulative = 0;
  for (size_t j = 0; j < bounds.size(); ++j) {
    cumulative += counts[j];
    m.histogram.bucket.push_back({cumulative, static_cast<double>(bounds[j]) / 1000.0});
  }
  cumulative += counts.back();
  // The +Inf bucket must equal the count; relaxed reads of separate atomics may disagree by a
  // racing observation, so report the bucket total as the count.
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum_ms) / 1000.0;
  (void)count;
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

std::vector<MetricFamily> BridgeCollector::Collect() const {
  const bridge::BridgeStatusReport report = status_();
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  std::vector<MetricFamily> out;
  using W = bridge::WorkerStatus;
  struct WorkerMetric {
    const char* name;
    const char* help;
    MetricType type;
    std::function<double(const W&)> get;
  };
  const WorkerMetric worker_metrics[] = {
      {"sluice_bridge_lag_records", "Records in the log not yet checkpointed as delivered to Kafka.",
       G, [](const W& w) { return double(w.lag); }},
      {"sluice_bridge_inflight_records", "Records produced to Kafka without a delivery report yet.",
       G, [](const W& w) { return double(w.inflight); }},
      {"sluice_bridge_checkpoint_offset", "The bridge's durable cursor (a restart resumes here).",
       G, [](const W& w) { return double(w.checkpoint.value()); }},
      {"sluice_bridge_worker_retrying", "1 while deliveries fail and are retried with backoff.", G,
       [](const W& w) { return w.state == bridge::WorkerState::kRetrying ? 1.0 : 0.0; }},
      {"sluice_bridge_worker_paused", "1 while an operator has paused the rule (sluicectl bridge pause).",
       G, [](const W& w) { return w.state == bridge::WorkerState::kPaused ? 1.0 : 0.0; }},
      {"sluice_bridge_produced_total", "Records handed to the Kafka producer.", C,
       [](const W& w) { return double(w.produced); }},
      {"sluice_bridge_delivered_total", "Records acknowledged by Kafka (acks=all).", C,
       [](const W& w) { return double(w.delivered); }},
      {"sluice_bridge_delivery_failures_total", "Failed Kafka delivery reports (each is retried).",
       C, [](const W& w) { return double(w.delivery_failures); }},
      {"sluice_bridge_retries_total", "Rewinds to the first unacknowledged record after a failure.",
       C, [](const W& w) { return double(w.retries); }},
      {"sluice_bridge_resent_after_ack_total",
       "Records produced again although Kafka had acknowledged them (possible duplicates).", C,
       [](const W& w) { return double(w.resent_after_ack); }},
      {"sluice_bridge_skipped_unmappable_total", "Matching records without a valid Kafka topic or key.",
       C, [](const W& w) { return double(w.skipped_unmappable); }},
      {"sluice_bridge_lost_to_retention_total",
       "Records deleted by a hard retention limit before the bridge produced them.", C,
       [](const W& w) { return double(w.lost_to_retention); }},
  };
  if (!report.mqtt_to_kafka.empty()) {
    for (const WorkerMetric& m : worker_metrics) {
      MetricFamily f = Family(m.name, m.help, m.type);
      for (const W& w : report.mqtt_to_kafka)
        AddValue(&f, m.get(w), {{"rule", w.rule}, {"partition", std::to_string(w.partition.value())}});
      out.push_back(std::move(f));
    }
  }
  using R = bridge::ConsumerRuleStatus;
  struct RuleMetric {
    const char* name;
    const char* help;
    uint64_t R::*field;
  };
  const RuleMetric rule_metrics[] = {
      {"sluice_bridge_kafka_consumed_total", "Kafka records consumed by a kafka_to_mqtt rule.", &R::consumed},
      {"sluice_bridge_kafka_published_total", "Kafka records published into MQTT.", &R::published},
      {"sluice_bridge_kafka_publish_failures_total", "Publishes into the broker that failed (retried).",
       &R::publish_failures},
      {"sluice_bridge_kafka_skipped_unmappable_total", "Kafka records without a valid MQTT topic.",
       &R::skipped_unmappable},
      {"sluice_bridge_kafka_consumer_errors_total", "Errors reported by the Kafka consumer.",
       &R::consumer_errors},
  };
  if (!report.kafka_to_mqtt.empty()) {
    for (const RuleMetric& m : rule_metrics) {
      MetricFamily f = Family(m.name, m.help, C);
      for (const R& r : report.kafka_to_mqtt) AddValue(&f, double(r.*m.field), {{"rule", r.rule}});
      out.push_back(std::move(f));
    }
    MetricFamily f = Family("sluice_bridge_kafka_rule_paused",
                            "1 while an operator has paused the kafka_to_mqtt rule.", G);
    for (const R& r : report.kafka_to_mqtt) AddValue(&f, r.paused ? 1 : 0, {{"rule", r.rule}});
    out.push_back(std::move(f));
  }
  return out;
}

void StorageCollector::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  log_ = nullptr;
}

std::vector<MetricFamily> StorageCollector::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MetricFamily> out;
  if (log_ == nullptr) return out;
  const storage::PartitionedLog& log = *log_;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  const storage::LogStats stats = log.stats();
  const multiraft::MultiRaftStats raft = log.raft_stats();
  out.push_back(Single("sluice_storage_appends_total",
                       "Records appended to the commit log (durable and readable).", C,
                       static_cast<double>(stats.appends)));
  out.push_back(Single("sluice_storage_append_failures_total",
                       "Appends that failed (not stored, or outcome unknown: the publish was not "
                       "acknowledged).", C, static_cast<double>(stats.appends_failed)));
  out.push_back(Single("sluice_storage_group_commits_total",
                       "Synced writes of the Raft log: each makes every append (and cursor "
                       "commit) of all partitions that arrived in one driver turn durable. "
                       "appends_total / group_commits_total = records per group commit.", C,
                       static_cast<double>(raft.storage_writes)));
  out.push_back(Single("sluice_storage_raft_readies_total",
                       "Raft Readies handled (several partitions' Readies share a group commit).",
                       C, static_cast<double>(raft.readies)));
  out.push_back(Single("sluice_storage_retention_proposals_total",
                       "Retention commands proposed to partitions (something to delete or a "
                       "cursor to expire).", C, static_cast<double>(stats.retention_proposals)));
  {
    MetricFamily f = Family("sluice_storage_sync_write_duration_seconds",
                            "Duration of the synced RocksDB write of one group commit (write and "
                            "fsync with log_fsync=batch); microsecond resolution.",
                            MetricType::Histogram);
    const multiraft::StorageWriteHistogram& h = raft.storage_write_latency;
    ClientMetric m;
    uint64_t cumulative = 0;
    for (size_t j = 0; j < h.kBoundsUs.size(); ++j) {
      cumulative += h.buckets[j];
      m.histogram.bucket.push_back({cumulative, static_cast<double>(h.kBoundsUs[j]) / 1e6});
    }
    cumulative += h.buckets.back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(h.sum_us) / 1e6;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  out.push_back(Single("sluice_raft_proposals_failed_total",
                       "Raft proposals (appends, cursor commits, ...) that failed or timed out.",
                       C, static_cast<double>(raft.proposals_failed)));
  out.push_back(Single("sluice_raft_snapshots_total",
                       "Raft snapshots taken (the records database synced, the Raft log "
                       "compacted behind it).", C, static_cast<double>(raft.snapshots_taken)));
  out.push_back(Single("sluice_storage_partitions", "Partitions of the commit log.", G,
                       log.partitions()));

  MetricFamily hwm = Family("sluice_storage_partition_high_watermark",
                            "One past the last committed record's offset.", G);
  MetricFamily start = Family("sluice_storage_partition_log_start_offset",
                              "The first readable offset (retention moves it up).", G);
  MetricFamily records = Family("sluice_storage_partition_records",
                                "Records in the partition (high watermark - log start).", G);
  MetricFamily bytes = Family("sluice_storage_partition_size_bytes",
                              "Encoded record bytes between log start and high watermark.", G);
  MetricFamily cursors = Family("sluice_storage_partition_cursors",
                                "Durable cursors (persistent sessions, bridge rules).", G);
  MetricFamily deleted = Family("sluice_storage_partition_records_deleted_total",
                                "Records deleted by retention since sluiced started.", C);
  MetricFamily past = Family("sluice_storage_partition_records_deleted_past_cursor_total",
                             "Records deleted by a hard retention limit although a live cursor "
                             "(session, bridge) still needed them: data those consumers lost.",
                             C);
  MetricFamily term = Family("sluice_raft_term", "Current Raft term of the partition's group.", G);
  MetricFamily leader = Family("sluice_raft_is_leader",
                               "1 if this node leads the partition's Raft group.", G);
  MetricFamily commit = Family("sluice_raft_commit_index",
                               "Raft commit index of the partition's group.", G);
  MetricFamily applied = Family("sluice_raft_applied_index",
                                "Raft index applied to the records database.", G);
  MetricFamily changes = Family("sluice_raft_leader_changes_total",
                                "Leader changes of the partition's group seen by this node "
                                "(the first election counts).", C);
  const NodeId self = log.node_id();
  for (uint32_t p = 0; p < log.partitions(); ++p) {
    std::vector<ClientMetric::Label> label = {{"partition", std::to_string(p)}};
    absl::StatusOr<storage::PartitionInfo> info = log.Info(PartitionId(p));
    if (info.ok()) {
      AddValue(&hwm, static_cast<double>(info->high_watermark.value()), label);
      AddValue(&start, static_cast<double>(info->log_start.value()), label);
      AddValue(&records,
               static_cast<double>(info->high_watermark.value() - info->log_start.value()), label);
      AddValue(&bytes, static_cast<double>(info->bytes), label);
      AddValue(&cursors, static_cast<double>(info->cursors), label);
      AddValue(&deleted, static_cast<double>(info->records_deleted), label);
      AddValue(&past, static_cast<double>(info->records_deleted_past_cursor), label);
    }
    if (std::optional<multiraft::GroupStatus> rs = log.RaftStatus(PartitionId(p))) {
      AddValue(&term, static_cast<double>(rs->term.value()), label);
      AddValue(&leader, rs->leader == self && rs->state == raft::StateType::kLeader ? 1 : 0, label);
      AddValue(&commit, static_cast<double>(rs->commit.value()), label);
      AddValue(&applied, static_cast<double>(rs->applied.value()), label);
      AddValue(&changes, static_cast<double>(rs->leader_changes), label);
    }
  }
  for (MetricFamily* f : {&hwm, &start, &records, &bytes, &cursors, &deleted, &past, &term,
                          &leader, &commit, &applied, &changes})
    out.push_back(std::move(*f));
  return out;
}

std::string RefusalReasonName(uint8_t code) {
  switch (code) {
    case 0x80: return "unspecified_error";
    case 0x81: return "malformed_packet";
    case 0x82: return "protocol_error";
    case 0x83: return "implementation_specific_error";
    case 0x84: return "unsupported_protocol_version";
    case 0x85: return "client_identifier_not_valid";
    case 0x86: return "bad_username_or_password";
    case 0x87: return "not_authorized";
    case 0x88: return "server_unavailable";
    case 0x89: return "server_busy";
    case 0x8A: return "banned";
    case 0x8C: return "bad_authentication_method";
    case 0x95: return "packet_too_large";
    case 0x97: return "quota_exceeded";
    case 0x9F: return "connection_rate_exceeded";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "code_0x%02x", code);
      return buf;
    }
  }
}

std::string PacketTypeName(size_t type) {
  static const char* kNames[] = {"reserved", "connect",  "connack",  "publish",    "puback",
                                 "pubrec",   "pubrel",   "pubcomp",  "subscribe",  "suback",
                                 "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect",
                                 "auth"};
  return type < 16 ? kNames[type] : "unknown";
}

BrokerCollector::BrokerCollector(broker::Broker* broker, std::string version)
    : broker_(broker), version_(std::move(version)) {}

std::vector<MetricFamily> BrokerCollector::Collect() const {
  using S = broker::BrokerStats;
  broker::Broker* b = broker_;
  std::vector<MetricFamily> out;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;

  MetricFamily info = Family("sluice_build_info", "Version of this sluiced (value is always 1).", G);
  AddValue(&info, 1, {{"version", version_}});
  out.push_back(std::move(info));
  out.push_back(Single("sluice_shards", "Worker threads (shards) of the broker.", G,
                       b->shard_count()));

  out.push_back(Single("sluice_connections_current", "Open client connections.", G,
                       static_cast<double>(Sum(b, [](S& s) -> auto& { return s.connections_current; }))));
  out.push_back(Single("sluice_connections_accepted_total",
                       "Connections accepted (CONNACK success sent).", C,
                       Sum(b, [](S& s) -> auto& { return s.connections_accepted; })));
  {
    MetricFamily f = Family("sluice_connections_refused_total",
                            "Connections refused, by CONNACK reason (accept_error: refused at "
                            "accept, e.g. out of file descriptors).", C);
    uint64_t by_reason_total = 0;
    for (int code = 0; code < 256; ++code) {
      uint64_t n = 0;
      for (uint32_t i = 0; i < b->shard_count(); ++i)
        n += Load(b->shard(i).stats().connect_refused_reason[code]);
      if (n == 0) continue;
      by_reason_total += n;
      AddValue(&f, n, {{"reason", RefusalReasonName(static_cast<uint8_t>(code))}});
    }
    uint64_t total = Sum(b, [](S& s) -> auto& { return s.connect_refused; });
    AddValue(&f, total > by_reason_total ? total - by_reason_total : 0, {{"reason", "accept_error"}});
    out.push_back(std::move(f));
  }
  {
    MetricFamily in = Family("sluice_packets_received_total", "MQTT packets received, by type.", C);
    MetricFamily sent = Family("sluice_packets_sent_total", "MQTT packets sent, by type.", C);
    // Only the types that may travel in each direction (client -> broker, broker -> client).
    constexpr uint16_t kFromClient = 0xD5FA;  // bit t set: type t may be sent that way
    constexpr uint16_t kToClient = 0xEAFC;
    for (size_t t = 1; t < 16; ++t) {
      uint64_t n_in = 0, n_out = 0;
      for (uint32_t i = 0; i < b->shard_count(); ++i) {
        n_in += Load(b->shard(i).stats().packets_received[t]);
        n_out += Load(b->shard(i).stats().packets_sent[t]);
      }
      if (kFromClient >> t & 1) AddValue(&in, n_in, {{"type", PacketTypeName(t)}});
      if (kToClient >> t & 1) AddValue(&sent, n_out, {{"type", PacketTypeName(t)}});
    }
    out.push_back(std::move(in));
    out.push_back(std::move(sent));
  }
  out.push_back(Single("sluice_bytes_received_total", "Bytes read from client sockets.", C,
                       Sum(b, [](S& s) -> auto& { return s.bytes_received; })));
  out.push_back(Single("sluice_bytes_sent_total", "Bytes written to client sockets.", C,
                       Sum(b, [](S& s) -> auto& { return s.bytes_sent; })));
  {
    MetricFamily rx = Family("sluice_messages_received_total",
                             "PUBLISH messages received from clients (and wills), by QoS.", C);
    MetricFamily tx = Family("sluice_messages_delivered_total",
                             "PUBLISH messages sent to subscribers, by QoS.", C);
    for (size_t q = 0; q < 3; ++q) {
      uint64_t n_rx = 0, n_tx = 0;
      for (uint32_t i = 0; i < b->shard_count(); ++i) {
        n_rx += Load(b->shard(i).stats().messages_received_qos[q]);
        n_tx += Load(b->shard(i).stats().messages_delivered_qos[q]);
      }
      AddValue(&rx, n_rx, {{"qos", std::to_string(q)}});
      AddValue(&tx, n_tx, {{"qos", std::to_string(q)}});
    }
    out.push_back(std::move(rx));
    out.push_back(std::move(tx));
  }
  {
    MetricFamily f = Family("sluice_messages_dropped_total",
                            "Messages not delivered to a subscriber, by reason: queue_full "
                            "(max_queued_messages when set, memory_queue_max_messages for "
                            "messages not in the log), offline_qos0, expired (message expiry), "
                            "too_large (client maximum packet size), write_buffer "
                            "(max_write_buffer_bytes, QoS 0).", C);
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.messages_dropped_queue_full; }), {{"reason", "queue_full"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.messages_dropped_offline_qos0; }), {{"reason", "offline_qos0"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.messages_dropped_expired; }), {{"reason", "expired"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.messages_dropped_too_large; }), {{"reason", "too_large"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.messages_dropped_write_buffer; }), {{"reason", "write_buffer"}});
    out.push_back(std::move(f));
  }
  out.push_back(Single("sluice_messages_deferred_to_log_total",
                       "Deliveries left in the commit log for a session that was behind or "
                       "offline: it reads them back (not a drop).", C,
                       Sum(b, [](S& s) -> auto& { return s.messages_deferred_to_log; })));
  out.push_back(Single("sluice_messages_read_from_log_total",
                       "Deliveries sessions read back from the commit log (their backlog).", C,
                       Sum(b, [](S& s) -> auto& { return s.messages_read_from_log; })));
  {
    MetricFamily f = Family("sluice_session_records_lost_total",
                            "Records a session still needed that were deleted before it read "
                            "them, by reason (hard_retention: log_hard_retention_*).", C);
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.session_records_lost; }),
             {{"reason", "hard_retention"}});
    out.push_back(std::move(f));
  }
  out.push_back(Single("sluice_session_save_failures_total",
                       "Session records the commit log did not take: a SUBSCRIBE/UNSUBSCRIBE "
                       "waiting for it is refused, a background save is retried by the next.", C,
                       Sum(b, [](S& s) -> auto& { return s.session_save_failures; })));
  out.push_back(Single("sluice_log_background_failures_total",
                       "Commit log writes nobody waits for that failed (a cursor moved on, an "
                       "ended session's record, cursor or QoS 2 entry cleared); each is logged.",
                       C, b->durable() ? static_cast<double>(b->durable()->background_failures()) : 0.0));
  out.push_back(Single("sluice_session_read_errors_total",
                       "Reads of a session's backlog from the log that failed (retried).", C,
                       Sum(b, [](S& s) -> auto& { return s.session_read_errors; })));
  out.push_back(Single("sluice_messages_replayed_total",
                       "Messages delivered from the commit log to subscriptions asking for a "
                       "replay (sluice-replay).", C,
                       Sum(b, [](S& s) -> auto& { return s.messages_replayed; })));
  out.push_back(Single("sluice_messages_store_failed_total",
                       "QoS 1/2 publishes the commit log could not store (not acknowledged).", C,
                       Sum(b, [](S& s) -> auto& { return s.messages_store_failed; })));
  out.push_back(Single("sluice_publishes_denied_total", "PUBLISH refused by deny_publish or the ACL.", C,
                       Sum(b, [](S& s) -> auto& { return s.publishes_denied; })));
  out.push_back(Single("sluice_subscribes_denied_total", "Subscriptions refused by deny_subscribe or the ACL.", C,
                       Sum(b, [](S& s) -> auto& { return s.subscribes_denied; })));
  out.push_back(Single("sluice_protocol_errors_total", "Connections closed for a protocol violation.", C,
                       Sum(b, [](S& s) -> auto& { return s.protocol_errors; })));
  out.push_back(Single("sluice_keepalive_timeouts_total", "Connections closed by keep alive.", C,
                       Sum(b, [](S& s) -> auto& { return s.keepalive_timeouts; })));
  out.push_back(Single("sluice_sessions_taken_over_total", "Sessions taken over by a new connection.", C,
                       Sum(b, [](S& s) -> auto& { return s.sessions_taken_over; })));
  if (b->clustered()) {
    MetricFamily f = Family("sluice_cluster_session_claims_total",
                            "CONNECTs' claims of their client id (README \"Cluster\"): "
                            "admitted, failed (not confirmed in time: CONNACK 0x88), busy "
                            "(too many waiting: 0x89).", C);
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.claims_admitted; }), {{"result", "admitted"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.claims_failed; }), {{"result", "failed"}});
    AddValue(&f, Sum(b, [](S& s) -> auto& { return s.claims_busy; }), {{"result", "busy"}});
    out.push_back(std::move(f));
    out.push_back(Single("sluice_cluster_session_claims_waiting",
                         "CONNECTs waiting for their claim now.", MetricType::Gauge,
                         Sum(b, [](S& s) -> auto& { return s.claims_waiting; })));
    out.push_back(Single("sluice_cluster_sessions_taken_over_total",
                         "Connections taken over by a newer connection of their client id on "
                         "another node (DISCONNECT 0x8E).", C,
                         Sum(b, [](S& s) -> auto& { return s.claims_taken_over; })));
  }
  out.push_back(Single("sluice_sessions_expired_total", "Offline sessions ended by their expiry interval.", C,
                       Sum(b, [](S& s) -> auto& { return s.sessions_expired; })));
  out.push_back(Single("sluice_wills_published_total", "Will messages published.", C,
                       Sum(b, [](S& s) -> auto& { return s.wills_published; })));
  out.push_back(Single("sluice_clients_kicked_total", "Clients disconnected through the admin API.", C,
                       Sum(b, [](S& s) -> auto& { return s.clients_kicked; })));
  out.push_back(Single("sluice_auth_failures_total", "CONNECTs refused for bad credentials.", C,
                       Sum(b, [](S& s) -> auto& { return s.auth_failures; })));
  out.push_back(Single("sluice_publishes_denied_acl_total", "PUBLISH refused by the ACL (also in sluice_publishes_denied_total).", C,
                       Sum(b, [](S& s) -> auto& { return s.publishes_denied_acl; })));
  out.push_back(Single("sluice_subscribes_denied_acl_total", "Subscriptions refused by the ACL (also in sluice_subscribes_denied_total).", C,
                       Sum(b, [](S& s) -> auto& { return s.subscribes_denied_acl; })));
  out.push_back(Single("sluice_publishes_rate_limited_total", "PUBLISH over max_publish_rate / max_publish_bytes_rate.", C,
                       Sum(b, [](S& s) -> auto& { return s.publishes_rate_limited; })));
  out.push_back(Single("sluice_subscriptions_refused_limit_total", "Subscriptions over max_subscriptions_per_client.", C,
                       Sum(b, [](S& s) -> auto& { return s.subscriptions_refused_limit; })));
  out.push_back(Single("sluice_topics_refused_limit_total", "Topics over max_topic_length / max_topic_levels.", C,
                       Sum(b, [](S& s) -> auto& { return s.topics_refused_limit; })));
  out.push_back(Single("sluice_user_properties_refused_limit_total",
                       "Packets refused for more user properties than max_user_properties.", C,
                       Sum(b, [](S& s) -> auto& { return s.user_properties_refused_limit; })));
  {
    // Accept-time limits (broker/net/admission.h) and TLS/WebSocket handshakes.
    net::Admission::Counts admission = b->security().admission_counts();
    MetricFamily f = Family("sluice_connections_refused_limit_total",
                            "Sockets closed at accept by a connection limit, by limit.", C);
    AddValue(&f, static_cast<double>(admission.refused_total - admission.refused_per_address -
                                     admission.refused_rate),
             {{"limit", "max_connections"}});
    AddValue(&f, static_cast<double>(admission.refused_per_address),
             {{"limit", "max_connections_per_address"}});
    AddValue(&f, static_cast<double>(admission.refused_rate), {{"limit", "max_connection_rate"}});
    out.push_back(std::move(f));
    out.push_back(Single("sluice_handshake_failures_total",
                         "TLS handshakes and WebSocket upgrades that failed or timed out.", C,
                         static_cast<double>(b->security().handshake_failures())));
    out.push_back(Single("sluice_security_reloads_total",
                         "Reloads of certificates, password file and ACL (SIGHUP).", C,
                         static_cast<double>(b->security().reloads())));
  }
  out.push_back(Histogram("sluice_message_delivery_latency_seconds",
                          "From the broker receiving a PUBLISH to its copy being handed to a "
                          "subscriber's connection (includes time queued for an offline or "
                          "full session); millisecond resolution.", b,
                          &broker::BrokerStats::delivery_latency));
  out.push_back(Histogram("sluice_message_ack_latency_seconds",
                          "From the broker receiving a PUBLISH to the subscriber acknowledging "
                          "its QoS 1/2 copy (PUBACK/PUBCOMP); millisecond resolution.", b,
                          &broker::BrokerStats::ack_latency));
  out.push_back(Histogram("sluice_publish_ack_latency_seconds",
                          "From the broker receiving a QoS 1/2 PUBLISH to its PUBACK/PUBREC being "
                          "ready, i.e. the message durable in the commit log (group commit and "
                          "fsync included); millisecond resolution.", b,
                          &broker::BrokerStats::publish_ack_latency));

  broker::StatsSnapshot snapshot = b->Stats();
  out.push_back(Single("sluice_retained_messages", "Retained messages stored.", G, snapshot.retained));
  auto gauges = b->CollectGauges();
  if (gauges.ok()) {
    MetricFamily sessions = Family("sluice_sessions", "Sessions, by state.", G);
    AddValue(&sessions, gauges->sessions_connected, {{"state", "online"}});
    AddValue(&sessions, gauges->sessions - gauges->sessions_connected, {{"state", "offline"}});
    out.push_back(std::move(sessions));
    out.push_back(Single("sluice_subscriptions", "Subscriptions of all sessions.", G, gauges->subscriptions));
    out.push_back(Single("sluice_messages_inflight",
                         "QoS 1/2 messages sent to subscribers and not yet acknowledged.", G,
                         gauges->inflight));
    out.push_back(Single("sluice_messages_queued",
                         "Messages queued in sessions' memory beyond the inflight window "
                         "(read-ahead from the log, and messages not in the log).",
                         G, gauges->queued));
    out.push_back(Single("sluice_session_lag_records_total",
                         "Records of the commit log behind all sessions (from the first each "
                         "still needs to the high watermark, matching or not).", G,
                         gauges->lag_records));
    {
      // A gauge histogram: how many sessions are how far behind, right now.
      MetricFamily f = Family("sluice_session_lag_records",
                              "Sessions by records behind in the commit log (cumulative "
                              "buckets: le = at most that many).", G);
      uint64_t cumulative = 0;
      for (size_t i = 0; i < gauges->lag_buckets.size(); ++i) {
        cumulative += gauges->lag_buckets[i];
        const std::string le = i < broker::Broker::Gauges::kLagBounds.size()
                                   ? std::to_string(broker::Broker::Gauges::kLagBounds[i])
                                   : "+Inf";
        AddValue(&f, cumulative, {{"le", le}});
      }
      out.push_back(std::move(f));
    }
  } else {
    SLOG(kWarn).Kv("error", gauges.status().message()) << "metrics: session gauges left out";
  }
  return out;
}

std::vector<MetricFamily> ProcessCollector::Collect() const {
  std::vector<MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    // Fields after the command name, starting at field 3 (state).
    std::istringstream fields(stat.substr(paren + 2));
    std::vector<std::string> f;
    std::string x;
    while (fields >> x) f.push_back(x);
    auto field = [&](size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
    out.push_back(Single("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                         MetricType::Counter, (field(14) + field(15)) / ticks));
    out.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         MetricType::Gauge, field(23)));
    out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                         MetricType::Gauge, field(24) * page));
    std::ifstream proc_stat("/proc/stat");
    std::string line;
    double boot_time = 0;
    while (std::getline(proc_stat, line))
      if (line.rfind("btime ", 0) == 0) boot_time = std::stod(line.substr(6));
    out.push_back(Single("process_start_time_seconds",
                         "Start time of the process since the Unix epoch, in seconds.",
                         MetricType::Gauge, boot_time + field(22) / ticks));
  }
  std::error_code ec;
  size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  out.push_back(Single("process_open_fds", "Open file descriptors.", MetricType::Gauge, fds));
  std::ifstream limits("/proc/self/limits");
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream in(line.substr(14));
    std::string soft;
    in >> soft;
    if (soft != "unlimited")
      out.push_back(Single("process_max_fds", "Maximum number of open file descriptors.",
                           MetricType::Gauge, std::stod(soft)));
  }
  return out;
}

// ---- HTTP server ---------------------------------------------------------------------------

class MetricsServer::Handler : public CivetHandler {
 public:
  enum class Kind { kMetrics, kHealth, kReady };
  Handler(MetricsServer* server, Kind kind) : server_(server), kind_(kind) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    int status = 200;
    std::string type = "text/plain; charset=utf-8";
    std::string body;
    switch (kind_) {
      case Kind::kMetrics:
        type = "text/plain; version=0.0.4; charset=utf-8";
        body = server_->Render();
        break;
      case Kind::kHealth: {
        absl::Status s = server_->broker_->PingShards();
        status = s.ok() ? 200 : 503;
        body = s.ok() ? "ok\n" : "unhealthy: " + std::string(s.message()) + "\n";
        break;
      }
      case Kind::kReady: {
        std::optional<std::string> not_ready;
        if (server_->ready_.load() && server_->ready_check_) not_ready = server_->ready_check_();
        if (server_->ready_.load() && !not_ready) {
          body = "ready\n";
        } else if (not_ready) {
          status = 503;
          body = "not ready: " + *not_ready + "\n";
        } else {
          status = 503;
          std::lock_guard<std::mutex> lock(server_->reason_mu_);
          body = "not ready: " +
                 (server_->not_ready_reason_ ? *server_->not_ready_reason_ : "starting") + "\n";
        }
        break;
      }
    }
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              status, status == 200 ? "OK" : "Service Unavailable", type.c_str(), body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  MetricsServer* server_;
  Kind kind_;
};

MetricsServer::MetricsServer(broker::Broker* broker) : broker_(broker) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Add(std::shared_ptr<prometheus::Collectable> collectable) {
  collectables_.push_back(std::move(collectable));
}

std::string MetricsServer::Render() const {
  std::vector<MetricFamily> families;
  for (const auto& c : collectables_) {
    auto f = c->Collect();
    families.insert(families.end(), std::make_move_iterator(f.begin()),
                    std::make_move_iterator(f.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

absl::Status MetricsServer::Start(const std::string& address) {
  std::string host;
  uint16_t port;
  if (!broker::SplitHostPort(address, &host, &port))
    return absl::InvalidArgumentError("metrics_listen: expected HOST:PORT, got '" + address + "'");
  std::string listen = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                             : host + ":" + std::to_string(port);
  std::vector<std::string> options = {"listening_ports", listen, "num_threads", "2",
                                      "request_timeout_ms", "5000"};
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    return absl::UnavailableError("cannot listen on " + address + " for metrics: " + e.what());
  }
  for (auto [uri, kind] : {std::pair{"/metrics", Handler::Kind::kMetrics},
                           std::pair{"/healthz", Handler::Kind::kHealth},
                           std::pair{"/readyz", Handler::Kind::kReady}}) {
    handlers_.push_back(std::make_unique<Handler>(this, kind));
    server_->addHandler(uri, handlers_.back().get());
  }
  std::vector<int> ports = server_->getListeningPorts();
  int bound_port = ports.empty() ? port : ports.front();
  bound_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(bound_port);
  SLOG(kInfo).Kv("listen", bound_) << "metrics endpoint ready";
  return absl::OkStatus();
}

void MetricsServer::SetReady(bool ready, std::string why_not) {
  {
    std::lock_guard<std::mutex> lock(reason_mu_);
    not_ready_reason_ = std::make_shared<const std::string>(std::move(why_not));
  }
  ready_.store(ready);
}

namespace {

// Connects to (and at once closes) HOST:PORT, to wake a poll() waiting on that listener.
void Poke(const std::string& bound) {
  std::string host;
  uint16_t port;
  if (!broker::SplitHostPort(bound, &host, &port)) return;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return;
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  close(fd);
}

}  // namespace

void MetricsServer::Stop() {
  if (!server_) return;
  // civetweb's listener thread polls with a 2 s timeout and only then sees the stop request;
  // a connection wakes it at once (bounded: it gives up poking after 3 s).
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    server_->close();
    closed = true;
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    Poke(bound_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  closer.join();
  server_.reset();
  handlers_.clear();
}

}  // namespace sluice::admin
