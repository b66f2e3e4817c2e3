#include "broker/cluster/cluster_view.h"

#include <algorithm>

#include "broker/cluster/cluster_node.h"
#include "storage/log/partitioned_log.h"

namespace sluice::broker {

ClusterView BuildClusterView(NodeId self, const std::string& self_address,
                             const std::vector<PeerLinkStats>& peers,
                             const std::vector<std::optional<multiraft::GroupStatus>>& partitions) {
  ClusterView v;
  v.self = self;
  std::map<NodeId, MemberView> members;
  MemberView& me = members[self];
  me.id = self;
  me.address = self_address;
  me.self = true;
  me.reachable = true;
  for (const PeerLinkStats& p : peers) {
    MemberView& m = members[p.peer];
    m.id = p.peer;
    m.address = p.address;
    m.reachable = p.connected;
    m.link_messages_sent = p.messages_sent;
    m.link_dropped = p.dropped;
    m.link_queued = p.queued;
  }
  v.partitions = static_cast<uint32_t>(partitions.size());
  for (const std::optional<multiraft::GroupStatus>& g : partitions) {
    if (!g || g->leader == NodeId()) {
      ++v.partitions_without_leader;
      continue;
    }
    if (auto it = members.find(g->leader); it != members.end()) ++it->second.partitions_led;
    if (g->applied < g->commit) ++v.partitions_catching_up;
    if (g->leader != self) continue;
    // The leader knows how far behind each follower is: its last index minus their match.
    for (const auto& [id, match] : g->match) {
      auto it = members.find(id);
      if (it == members.end() || id == self) continue;
      const uint64_t lag =
          g->last_index.value() > match.value() ? g->last_index.value() - match.value() : 0;
      it->second.max_lag_entries = std::max(it->second.max_lag_entries, lag);
    }
  }
  for (auto& [id, m] : members) v.members.push_back(m);
  if (v.partitions_without_leader > 0) {
    v.not_ready = std::to_string(v.partitions_without_leader) + " of " +
                  std::to_string(v.partitions) +
                  " partitions have no leader this node knows (is a quorum of the cluster up "
                  "and reachable?)";
  } else if (v.partitions_catching_up > 0) {
    v.not_ready = "catching up: " + std::to_string(v.partitions_catching_up) +
                  " partitions have committed entries not applied here yet";
  }
  return v;
}

ClusterView ViewOf(const ClusterNode& node, const storage::PartitionedLog& log) {
  std::vector<std::optional<multiraft::GroupStatus>> partitions;
  partitions.reserve(log.partitions());
  for (uint32_t p = 0; p < log.partitions(); ++p) partitions.push_back(log.RaftStatus(PartitionId(p)));
  std::string self_address;
  if (auto it = node.peers().find(node.self()); it != node.peers().end()) self_address = it->second;
  return BuildClusterView(node.self(), self_address, node.peer_stats(), partitions);
}

}  // namespace sluice::broker
