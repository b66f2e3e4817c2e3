// Router: one shard's replica of the broker's subscription trie, and the matching of a
// published message against it. A message reaches each matching session once: overlapping
// subscriptions of a session are aggregated (the highest granted QoS, retain-as-published if
// any asks for it, every subscription identifier), a $share group gives it to one member
// (round robin, or at random), no-local is honoured. Each delivery is addressed to the
// session's home shard: delivered at once when that is this shard, else batched per shard and
// handed to `post` in one go at the end of the route (one post per shard per message, not per
// delivery).
//
// Thread-safety: owned by its shard and used on that thread only (the trie replica is updated
// through the shard, see Broker::Broadcast). Ownership: the target and the RNG outlive it.
#ifndef SLUICE_BROKER_SERVER_ROUTER_H_
#define SLUICE_BROKER_SERVER_ROUTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/rng.h"
#include "broker/session/message.h"
#include "mqtt/topic/subscription_trie.h"

namespace sluice::broker {

class Router {
 public:
  using Batch = std::vector<std::pair<std::string, Delivery>>;
  // Where deliveries go: the local shard's sessions, and a batch for another shard.
  class Target {
   public:
    virtual ~Target() = default;
    virtual void Deliver(std::string_view client_id, Delivery delivery) = 0;
    virtual void Post(uint32_t shard, Batch batch) = 0;
  };

  Router(uint32_t self, uint32_t shards, Target* target, SeededRng* rng)
      : self_(self), target_(target), rng_(rng), outbox_(shards == 0 ? 1 : shards) {}

  topic::SubscriptionTrie& trie() { return trie_; }
  const topic::SubscriptionTrie& trie() const { return trie_; }
  // The shard count changed before the shards started (the broker builds them one by one).
  void SetShards(uint32_t shards) { outbox_.resize(shards); }

  // Routes `message`; returns how many sessions it was addressed to. `random_share`: $share
  // groups pick a random member instead of the next one.
  size_t Route(const MessagePtr& message, bool random_share);

 private:
  struct Aggregate {
    uint32_t shard = 0;
    uint8_t qos = 0;
    bool retain_as_published = false;
    std::vector<uint32_t> subscription_ids;
  };
  void Dispatch(std::string_view client_id, uint32_t shard, Delivery delivery);
  void Flush();

  const uint32_t self_;
  Target* target_;
  SeededRng* rng_;
  topic::SubscriptionTrie trie_;
  // Reused per route: aggregation per client, and per-shard outboxes.
  absl::flat_hash_map<absl::string_view, Aggregate> aggregate_;
  std::vector<Batch> outbox_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_ROUTER_H_
