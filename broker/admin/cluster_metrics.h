// ClusterCollector: /metrics of a cluster node (README "Cluster"), from broker/cluster's
// ClusterView and the node's link and transport counters:
//   sluice_cluster_members, sluice_cluster_ready, sluice_cluster_partitions_without_leader,
//   sluice_cluster_partitions_led{node}; per peer (label `peer`) sluice_cluster_peer_reachable,
//   sluice_cluster_peer_max_lag_entries, sluice_cluster_link_messages_sent_total,
//   sluice_cluster_link_dropped_total, sluice_cluster_link_queued; and
//   sluice_cluster_link_messages_received_total, sluice_cluster_raft_messages_{sent,
//   received}_total, sluice_cluster_raft_messages_dropped_total{reason},
//   sluice_cluster_raft_reconnects_total, sluice_cluster_proposals_parked_total,
//   sluice_cluster_proposals_waiting (followers' appends waiting for a leader).
// NotReady() is what /readyz reports for the cluster (ClusterView::not_ready).
// Thread-safety: Collect/NotReady from any thread; Detach (before the log closes) waits for
// a scrape in progress; afterwards both report nothing.
#ifndef SLUICE_BROKER_ADMIN_CLUSTER_METRICS_H_
#define SLUICE_BROKER_ADMIN_CLUSTER_METRICS_H_

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "broker/cluster/cluster_node.h"
#include "storage/log/partitioned_log.h"

namespace sluice::admin {

class ClusterCollector : public prometheus::Collectable {
 public:
  // Neither is owned; both must stay valid until Detach.
  ClusterCollector(const broker::ClusterNode* node, const storage::PartitionedLog* log)
      : node_(node), log_(log) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  std::optional<std::string> NotReady() const;
  void Detach();

 private:
  mutable std::mutex mu_;
  const broker::ClusterNode* node_;
  const storage::PartitionedLog* log_;
};

}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_CLUSTER_METRICS_H_
