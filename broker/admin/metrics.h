// Prometheus metrics of sluiced and the HTTP endpoint that serves them.
//
// BrokerCollector turns the shards' counters (BrokerStats: per-shard relaxed atomics) into
// metric families at scrape time, so the publish path never touches a shared lock or a
// prometheus-cpp object. Gauges that need shard state (sessions, subscriptions, inflight,
// queued) are gathered by posting to the shards at scrape time (bounded wait); if a shard
// does not answer they are left out of that scrape and the failure is logged.
// ProcessCollector reads /proc/self (CPU, RSS, virtual memory, open/max fds, start time).
//
// MetricsServer is an HTTP server (civetweb, the server prometheus-cpp's own exposer uses)
// with three endpoints:
//   /metrics  Prometheus text format 0.0.4
//   /healthz  200 while every shard thread answers a posted no-op within 2 s; else 503
//             (liveness: a stuck shard should get the pod restarted)
//   /readyz   200 once the broker is serving (SetReady(true)) and stops when it begins to
//             shut down, and (SetReadyCheck) while a cluster node has joined and caught up;
//             else 503 with the reason (readiness)
//
// Thread-safety: collectors are called from the HTTP server's threads, concurrently; they only
// read atomics and call the Broker's thread-safe admin methods. Start/Stop from one thread;
// the Broker must outlive the server.
#ifndef SLUICE_BROKER_ADMIN_METRICS_H_
#define SLUICE_BROKER_ADMIN_METRICS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/status/status.h"
#include "bridge/worker/status.h"
#include "broker/server/broker.h"
#include "storage/log/partitioned_log.h"

class CivetServer;

namespace sluice::admin {

class BrokerCollector : public prometheus::Collectable {
 public:
  BrokerCollector(broker::Broker* broker, std::string version);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  broker::Broker* broker_;
  std::string version_;
};

// The Kafka bridge (when configured): per MQTT->Kafka rule and log partition
// sluice_bridge_lag_records, _inflight_records, _checkpoint_offset, _worker_retrying and the
// counters sluice_bridge_{produced,delivered,delivery_failures,retries,resent_after_ack,
// skipped_unmappable,lost_to_retention}_total; per Kafka->MQTT rule
// sluice_bridge_kafka_{consumed,published,publish_failures,skipped_unmappable,
// consumer_errors}_total. `status` is BridgeHost::Status (a snapshot: no lock held long).
class BridgeCollector : public prometheus::Collectable {
 public:
  explicit BridgeCollector(std::function<bridge::BridgeStatusReport()> status)
      : status_(std::move(status)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<bridge::BridgeStatusReport()> status_;
};

// The commit log (storage/log) and its Raft groups:
//   sluice_storage_{appends,append_failures,group_commits,raft_readies,retention_proposals}_total,
//   sluice_storage_sync_write_duration_seconds (histogram: the synced RocksDB write of each
//   group commit), sluice_storage_partitions; per partition (label `partition`)
//   sluice_storage_partition_{high_watermark,log_start_offset,records,size_bytes,cursors}
//   (gauges), sluice_storage_partition_records_deleted{,_past_cursor}_total; Raft per
//   partition sluice_raft_{term,is_leader,commit_index,applied_index} and
//   sluice_raft_leader_changes_total; sluice_raft_proposals_failed_total,
//   sluice_raft_snapshots_total.
// Detach() before the log closes (Broker::Stop): later scrapes leave these out.
class StorageCollector : public prometheus::Collectable {
 public:
  explicit StorageCollector(const storage::PartitionedLog* log) : log_(log) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  void Detach();

 private:
  mutable std::mutex mu_;  // held while collecting: Detach waits for a scrape in progress
  const storage::PartitionedLog* log_;
};

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Name for a CONNACK reason code in sluice_connections_refused_total{reason=...}.
std::string RefusalReasonName(uint8_t code);
// Name for an MQTT packet type (1..15) in sluice_packets_*_total{type=...}.
std::string PacketTypeName(size_t type);

class MetricsServer {
 public:
  explicit MetricsServer(broker::Broker* broker);
  ~MetricsServer();

  void Add(std::shared_ptr<prometheus::Collectable> collectable);
  // Binds `address` (HOST:PORT; port 0 picks one) and starts serving.
  absl::Status Start(const std::string& address);
  std::string BoundAddress() const { return bound_; }
  void SetReady(bool ready, std::string why_not = "");
  // Consulted on each /readyz while ready: a reason makes it 503 (a cluster node that has not
  // joined or caught up). Set before Start; called on the server's threads.
  void SetReadyCheck(std::function<std::optional<std::string>()> check) {
    ready_check_ = std::move(check);
  }
  void Stop();

  // The /metrics body (for the server's handler and tests).
  std::string Render() const;

 private:
  class Handler;
  friend class Handler;
  broker::Broker* broker_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<CivetServer> server_;
  std::vector<std::unique_ptr<Handler>> handlers_;
  std::string bound_;
  std::atomic<bool> ready_{false};
  std::function<std::optional<std::string>()> ready_check_;
  std::shared_ptr<const std::string> not_ready_reason_;
  mutable std::mutex reason_mu_;
};

}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_METRICS_H_
