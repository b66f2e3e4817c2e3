// RetainedStore: the retained message of every topic, shared by the shards (one mutex, taken
// only by retained publishes and new subscriptions).
//
// Order (issue 12). For a topic stored in the commit log the retained message is the one
// its partition applied last: the order the log replays after a restart and, in the cluster,
// the order every replica applies. The store is therefore set in apply order (Applied, called
// by the partition's owner shard in offset order) — not by a sequence taken when a message
// arrives, which two publishers racing on one topic can take in the other order than the log
// stores them. A retained QoS 0 message is also set at once (SetNow: a SUBSCRIBE right after
// must see it) and again when its partition applies it, so whatever interleaving happens, the
// last word on each topic is the log's.
//
// Thread-safety: every method is thread-safe. Errors: none.
#ifndef SLUICE_BROKER_SERVER_RETAINED_STORE_H_
#define SLUICE_BROKER_SERVER_RETAINED_STORE_H_

#include <cstddef>
#include <mutex>
#include <string_view>
#include <vector>

#include "broker/session/message.h"
#include "mqtt/topic/retained_trie.h"

namespace sluice::broker {

class RetainedStore {
 public:
  // An empty payload deletes the topic's retained message (MQTT), any other replaces it.
  // Applied: in the topic partition's apply order (or, for a message the log does not hold
  // — $SYS, durability memory — when it is published). SetNow: ahead of the log.
  void Applied(const MessagePtr& message) { Set(message); }
  void SetNow(const MessagePtr& message) { Set(message); }
  // Deletes exactly `topic`; false if it had none.
  bool Erase(std::string_view topic);

  std::vector<MessagePtr> Match(std::string_view filter) const;
  // Every retained message, '$' topics included.
  std::vector<MessagePtr> All() const;
  size_t size() const;

 private:
  void Set(const MessagePtr& message);

  mutable std::mutex mu_;
  topic::RetainedTrie<MessagePtr> trie_;  // guarded by mu_
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_RETAINED_STORE_H_
