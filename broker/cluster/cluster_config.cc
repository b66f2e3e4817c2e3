#include "broker/cluster/cluster_config.h"

#include <set>

#include "absl/strings/numbers.h"
#include "base/host_port.h"

namespace sluice::broker {

absl::StatusOr<std::map<NodeId, std::string>> ParseClusterPeers(
    const std::vector<std::string>& peers, NodeId self) {
  std::map<NodeId, std::string> out;
  std::set<std::string> addresses;
  for (const std::string& entry : peers) {
    const size_t at = entry.find('@');
    uint64_t id = 0;
    std::string host;
    uint16_t port = 0;
    if (at == std::string::npos || !absl::SimpleAtoi(entry.substr(0, at), &id) || id == 0 ||
        id > (uint64_t{1} << 31) || !SplitHostPort(entry.substr(at + 1), &host, &port) ||
        port == 0) {
      return absl::InvalidArgumentError("invalid entry '" + entry +
                                        "' in cluster_peers: expected ID@HOST:PORT (ID >= 1)");
    }
    const std::string address = entry.substr(at + 1);
    if (!out.emplace(NodeId(id), address).second)
      return absl::InvalidArgumentError("node id " + std::to_string(id) +
                                        " appears twice in cluster_peers");
    if (!addresses.insert(address).second)
      return absl::InvalidArgumentError("address " + address + " appears twice in cluster_peers");
  }
  if (out.size() > kMaxClusterMembers)
    return absl::InvalidArgumentError("cluster_peers names " + std::to_string(out.size()) +
                                      " nodes; at most " + std::to_string(kMaxClusterMembers) +
                                      " are supported (every node replicates every partition)");
  if (!out.empty() && out.count(self) == 0)
    return absl::InvalidArgumentError("cluster_peers does not name this node (node_id " +
                                      std::to_string(self.value()) + ")");
  return out;
}

absl::Status ValidateClusterConfig(const ClusterConfig& c) {
  if (!c.enabled()) return absl::OkStatus();
  auto peers = ParseClusterPeers(c.cluster_peers, NodeId(static_cast<uint64_t>(c.node_id)));
  if (!peers.ok()) return peers.status();
  std::string host;
  uint16_t port = 0;
  if (c.cluster_listen.empty())
    return absl::InvalidArgumentError("cluster_peers needs cluster_listen (HOST:PORT)");
  if (!SplitHostPort(c.cluster_listen, &host, &port))
    return absl::InvalidArgumentError("invalid value '" + c.cluster_listen +
                                      "' for cluster_listen: expected HOST:PORT");
  return absl::OkStatus();
}

}  // namespace sluice::broker
