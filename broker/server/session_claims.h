// SessionClaims: one shard's side of the cluster's session claims (cluster/sessions/claims.h):
// a CONNECT in a cluster waits, its input paused, until its claim of the client id is applied
// here, and a claim applied for a client id whose connection is live on this shard takes that
// connection over (MQTT 5 DISCONNECT 0x8E), whichever node made it.
//
// Ownership: the Shard owns one (only in cluster mode); it borrows the shard and the log.
// Thread-safety: Start/Abandon and the claim handling run on the shard's thread; OnApplied
// may be called from any thread (the log's driver) and posts to it.
#ifndef SLUICE_BROKER_SERVER_SESSION_CLAIMS_H_
#define SLUICE_BROKER_SERVER_SESSION_CLAIMS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/ids.h"
#include "base/rng.h"
#include "cluster/sessions/claims.h"

namespace sluice::broker {

class Connection;
class Shard;

// CONNECTs of one shard waiting for their claim at once (beyond: CONNACK 0x89).
inline constexpr size_t kClaimsWaitingMax = 10'000;

class SessionClaims {
 public:
  // At most `waiting_max` CONNECTs of this shard wait for their claim at once. Claims go
  // into the broker's commit log (which opens after this is made).
  SessionClaims(Shard* shard, NodeId self, size_t waiting_max);

  // Proposes a claim of `client_id` for `connection`, which must pause its input until it
  // hears OnClaimAdmitted (go on) or OnClaimFailed (refuse the CONNECT). Returns the token to
  // Abandon with, or 0 when waiting_max claims already wait (refuse: server busy).
  uint64_t Start(const std::shared_ptr<Connection>& connection, const std::string& client_id);
  // The waiting connection closed: if its claim applies later, it admits nobody.
  void Abandon(uint64_t token);
  // Any thread: a claim the log applied (Broker::OnEvent); handled on the shard's thread.
  void OnApplied(cluster::Claim claim);

  size_t waiting() const { return table_.waiting(); }

 private:
  void Handle(const cluster::Claim& claim);
  void OnProposed(uint64_t token, const absl::Status& status);
  void TakeOver(const std::string& client_id, NodeId by);

  Shard* const shard_;
  const NodeId self_;
  cluster::ClaimTable table_;
  std::map<uint64_t, std::weak_ptr<Connection>> connections_;  // the waiting ones, by token
  SeededRng tokens_;  // seeded per process start: tokens differ across restarts
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_SESSION_CLAIMS_H_
