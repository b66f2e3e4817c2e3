// Session claims: one live connection per client id in the whole cluster.
//
// A CONNECT on a node of a cluster proposes a Claim (client id, node, token) as an event of
// the metadata group (storage PartitionedLog::ProposeEvent). Every node applies the claims in
// the metadata log's one order; the index a claim was applied at is the epoch of the
// connection it admits. The rule, the same on every node: the last claim applied for a client
// id wins.
//   - A node applying its own waiting claim lets that CONNECT go on (its local takeover of an
//     older connection of the same client id is the broker's usual one).
//   - A node applying any other claim for a client id (another node's, or one of its own that
//     no CONNECT waits for any more) takes over its live connection of that client id, if it
//     has one: MQTT 5 DISCONNECT 0x8E.
// A connection goes live only when its own claim is applied, so every live connection's epoch
// is below any claim applied after it: "the last applied wins" needs no epoch comparison, and
// two CONNECTs racing on two nodes end with exactly one live connection (claims_test runs
// seeded interleavings of that). Claims are not stored: a node replaying old ones at start
// has no live connection for them to touch.
//
// ClaimTable is the per-shard bookkeeping of that rule: pure (no sockets, threads, clock or
// disk), not thread-safe (its shard's thread owns it).
#ifndef SLUICE_CLUSTER_SESSIONS_CLAIMS_H_
#define SLUICE_CLUSTER_SESSIONS_CLAIMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace sluice::cluster {

struct Claim {
  std::string client_id;
  NodeId node;
  uint64_t token = 0;  // unique per CONNECT attempt of `node` (across its restarts too)
  friend bool operator==(const Claim&, const Claim&) = default;
};

std::string EncodeClaim(const Claim& c);
// InvalidArgument on bytes that are not an encoded Claim (a newer node's event, corruption).
absl::StatusOr<Claim> DecodeClaim(std::string_view bytes);

class ClaimTable {
 public:
  // `waiting_max`: CONNECTs of this shard waiting for their claim at once (Begin refuses more).
  ClaimTable(NodeId self, size_t waiting_max) : self_(self), waiting_max_(waiting_max) {}

  // A CONNECT of `client_id` waits for claim `token` (the caller proposes it). False when
  // `waiting_max` already wait: refuse the CONNECT (server busy), propose nothing.
  bool Begin(const std::string& client_id, uint64_t token);
  // Its proposal failed, or the connection closed while waiting: if the claim applies later
  // all the same, it admits nobody (and takes over this node's live connection, as any other).
  void Abandon(uint64_t token);

  enum class Action {
    kNone,      // no connection here is concerned
    kAdmit,     // the CONNECT waiting for this claim goes on, with epoch = the claim's index
    kTakeOver,  // this node's live connection of the client id (if any) must go: 0x8E
  };
  Action Apply(const Claim& c);

  size_t waiting() const { return waiting_.size(); }

 private:
  const NodeId self_;
  const size_t waiting_max_;
  std::map<uint64_t, std::string> waiting_;  // token -> client id
};

}  // namespace sluice::cluster

#endif  // SLUICE_CLUSTER_SESSIONS_CLAIMS_H_
