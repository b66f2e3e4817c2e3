#include "broker/server/session_claims.h"

#include <boost/asio/post.hpp>
#include <random>
#include <utility>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/server/shard.h"
#include "storage/log/partitioned_log.h"

namespace sluice::broker {

namespace {

uint64_t RandomSeed() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

}  // namespace

SessionClaims::SessionClaims(Shard* shard, NodeId self, size_t waiting_max)
    : shard_(shard), self_(self), table_(self, waiting_max), tokens_(RandomSeed()) {}

uint64_t SessionClaims::Start(const std::shared_ptr<Connection>& connection,
                              const std::string& client_id) {
  uint64_t token = tokens_.Next() | 1;  // never 0
  if (!table_.Begin(client_id, token)) {
    BrokerStats::Inc(shard_->stats().claims_busy);
    return 0;
  }
  connections_[token] = connection;
  shard_->stats().claims_waiting = table_.waiting();
  shard_->broker().durable()->log().ProposeEvent(cluster::EncodeClaim({client_id, self_, token}),
                     [this, token](absl::StatusOr<LogIndex> r) {
                       // Success needs nothing: the claim was applied (OnApplied) first.
                       if (r.ok()) return;
                       boost::asio::post(shard_->io(), [this, token, st = r.status()] {
                         OnProposed(token, st);
                       });
                     });
  return token;
}

void SessionClaims::Abandon(uint64_t token) {
  table_.Abandon(token);
  connections_.erase(token);
  shard_->stats().claims_waiting = table_.waiting();
}

void SessionClaims::OnApplied(cluster::Claim claim) {
  boost::asio::post(shard_->io(), [this, claim = std::move(claim)] { Handle(claim); });
}

void SessionClaims::Handle(const cluster::Claim& claim) {
  if (table_.Apply(claim) == cluster::ClaimTable::Action::kAdmit) {
    shard_->stats().claims_waiting = table_.waiting();
    auto it = connections_.find(claim.token);
    std::shared_ptr<Connection> c = it == connections_.end() ? nullptr : it->second.lock();
    if (it != connections_.end()) connections_.erase(it);
    if (c && !c->terminated()) {
      BrokerStats::Inc(shard_->stats().claims_admitted);
      c->OnClaimAdmitted();  // the usual local takeover of an older connection, if any
      return;
    }
  }
  // The newest claim of this client id is not a live CONNECT of this shard: whatever
  // connection of it is live here is older.
  TakeOver(claim.client_id, claim.node);
}

void SessionClaims::OnProposed(uint64_t token, const absl::Status& status) {
  auto it = connections_.find(token);
  if (it == connections_.end()) return;  // admitted meanwhile, or closed
  std::shared_ptr<Connection> c = it->second.lock();
  Abandon(token);
  BrokerStats::Inc(shard_->stats().claims_failed);
  if (c) c->OnClaimFailed(status);
}

void SessionClaims::TakeOver(const std::string& client_id, NodeId by) {
  SessionHost* host = shard_->Find(client_id);
  if (host == nullptr || host->connection == nullptr) return;
  SLOG(kInfo).Kv("client_id", client_id).Kv("by_node", by.value())
      << "session taken over by a newer connection elsewhere in the cluster";
  BrokerStats::Inc(shard_->stats().claims_taken_over);
  std::shared_ptr<Connection> old = host->connection;
  old->TakenOverElsewhere();
}

}  // namespace sluice::broker
