#include "broker/admin/cluster_metrics.h"

#include "broker/admin/metric_family.h"
#include "broker/cluster/cluster_view.h"

namespace sluice::admin {

using prometheus::MetricFamily;
using prometheus::MetricType;

void ClusterCollector::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  node_ = nullptr;
  log_ = nullptr;
}

std::optional<std::string> ClusterCollector::NotReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (node_ == nullptr || log_ == nullptr) return "the commit log is closed";
  return broker::ViewOf(*node_, *log_).not_ready;
}

std::vector<MetricFamily> ClusterCollector::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MetricFamily> out;
  if (node_ == nullptr || log_ == nullptr) return out;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  const broker::ClusterView v = broker::ViewOf(*node_, *log_);
  out.push_back(Single("sluice_cluster_members", "Members of the cluster (this node included).",
                       G, static_cast<double>(v.members.size())));
  out.push_back(Single("sluice_cluster_ready",
                       "1 when every partition has a leader this node knows and its replica "
                       "has applied what it knows committed (what /readyz says).",
                       G, v.not_ready ? 0 : 1));
  out.push_back(Single("sluice_cluster_partitions_without_leader",
                       "Partitions whose leader this node does not know (no quorum reachable, "
                       "or an election under way).", G,
                       static_cast<double>(v.partitions_without_leader)));
  MetricFamily led = Family("sluice_cluster_partitions_led",
                            "Partitions each member leads, as this node sees the leaders.", G);
  MetricFamily reachable = Family("sluice_cluster_peer_reachable",
                                  "1 while this node's link to the peer is up.", G);
  MetricFamily lag = Family("sluice_cluster_peer_max_lag_entries",
                            "On the partitions this node leads: the peer's worst replication "
                            "lag in Raft entries.", G);
  MetricFamily sent = Family("sluice_cluster_link_messages_sent_total",
                             "Messages not in the log (QoS 0, non-stored) sent to the peer.", C);
  MetricFamily dropped = Family("sluice_cluster_link_dropped_total",
                                "Messages for the peer dropped: its queue was full "
                                "(cluster_publish_queue_max) or it was unreachable.", C);
  MetricFamily queued = Family("sluice_cluster_link_queued",
                               "Messages waiting for the peer's link now.", G);
  for (const broker::MemberView& m : v.members) {
    const std::string id = std::to_string(m.id.value());
    AddValue(&led, m.partitions_led, {{"node", id}});
    if (m.self) continue;
    AddValue(&reachable, m.reachable ? 1 : 0, {{"peer", id}});
    AddValue(&lag, static_cast<double>(m.max_lag_entries), {{"peer", id}});
    AddValue(&sent, static_cast<double>(m.link_messages_sent), {{"peer", id}});
    AddValue(&dropped, static_cast<double>(m.link_dropped), {{"peer", id}});
    AddValue(&queued, static_cast<double>(m.link_queued), {{"peer", id}});
  }
  for (MetricFamily* f : {&led, &reachable, &lag, &sent, &dropped, &queued})
    out.push_back(std::move(*f));
  out.push_back(Single("sluice_cluster_link_messages_received_total",
                       "Messages other nodes sent this node over their links.", C,
                       static_cast<double>(node_->link_stats().messages_received)));
  const transport::TransportStats t = node_->transport_stats();
  out.push_back(Single("sluice_cluster_raft_messages_sent_total",
                       "Raft messages sent to peers (every group).", C,
                       static_cast<double>(t.messages_sent)));
  out.push_back(Single("sluice_cluster_raft_messages_received_total",
                       "Raft messages received from peers.", C,
                       static_cast<double>(t.messages_received)));
  MetricFamily raft_dropped = Family("sluice_cluster_raft_messages_dropped_total",
                                     "Raft messages not sent, by reason (Raft retransmits).", C);
  AddValue(&raft_dropped, static_cast<double>(t.messages_dropped_queue_full),
           {{"reason", "queue_full"}});
  AddValue(&raft_dropped, static_cast<double>(t.messages_dropped_unreachable),
           {{"reason", "unreachable"}});
  out.push_back(std::move(raft_dropped));
  out.push_back(Single("sluice_cluster_raft_reconnects_total",
                       "Raft streams to peers re-established.", C,
                       static_cast<double>(t.reconnects)));
  const storage::LogStats s = log_->stats();
  out.push_back(Single("sluice_cluster_proposals_parked_total",
                       "Appends that found no leader and waited for one (held in order on the "
                       "Raft driver).", C, static_cast<double>(s.proposals_parked)));
  out.push_back(Single("sluice_cluster_proposals_waiting",
                       "Appends waiting for a leader now.", G,
                       static_cast<double>(s.proposals_parked_now)));
  return out;
}

}  // namespace sluice::admin
