#include "cluster/raft/config.h"

namespace sluice::raft {

absl::Status Config::Validate() const {
  if (id == NodeId(0)) return absl::InvalidArgumentError("raft config: id must not be 0");
  if (heartbeat_tick <= 0) return absl::InvalidArgumentError("raft config: heartbeat_tick <= 0");
  if (election_tick <= heartbeat_tick) {
    return absl::InvalidArgumentError("raft config: election_tick must exceed heartbeat_tick");
  }
  if (storage == nullptr) return absl::InvalidArgumentError("raft config: storage is null");
  if (rng == nullptr) return absl::InvalidArgumentError("raft config: rng is null");
  if (max_inflight_msgs == 0) return absl::InvalidArgumentError("raft config: max_inflight_msgs 0");
  if (max_inflight_bytes != 0 && max_inflight_bytes < max_size_per_msg) {
    return absl::InvalidArgumentError("raft config: max_inflight_bytes < max_size_per_msg");
  }
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return absl::InvalidArgumentError("raft config: lease-based reads need check_quorum");
  }
  return absl::OkStatus();
}

}  // namespace sluice::raft
