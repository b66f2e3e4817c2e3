// Broker: the single-node MQTT broker. Owns the shards (one thread each), the listener, and
// the retained message store. Client ids are spread over shards by hash, so everything
// about one client id lives on one thread; subscriptions are replicated to every shard's
// trie so publishes match locally without locks.
//
// Thread-safety: Start/Stop from one controlling thread; Broadcast, HomeShard, SetRetained,
// MatchRetained and Stats from any thread. Errors: Start returns a status (bad address,
// port in use); nothing else fails.
#ifndef SLUICE_BROKER_SERVER_BROKER_H_
#define SLUICE_BROKER_SERVER_BROKER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <utility>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/status.h"
#include "broker/server/broker_config.h"
#include "broker/server/shard.h"
#include "broker/topic/retained_trie.h"

namespace sluice::broker {

struct StatsSnapshot {
  uint64_t connections_current = 0, connections_accepted = 0, messages_received = 0,
           messages_delivered = 0, messages_dropped = 0, sessions = 0, subscriptions = 0,
           retained = 0;
};

class Broker {
 public:
  explicit Broker(BrokerConfig config);
  ~Broker();

  // Binds the listener and starts the shard threads.
  absl::Status Start();
  // "HOST:PORT" actually bound (after Start).
  std::string BoundAddress() const;
  // Graceful stop: clients get DISCONNECT 0x8B (MQTT 5), then threads are joined.
  void Stop();

  const BrokerConfig& config() const { return config_; }
  uint32_t shard_count() const { return static_cast<uint32_t>(shards_.size()); }
  Shard& shard(uint32_t i) { return *shards_[i]; }
  uint32_t HomeShard(std::string_view client_id) const;

  // Runs fn(shard) on every shard's thread (the origin's at once, when called on it), then
  // done() on the origin shard's thread once all have run.
  void Broadcast(uint32_t origin, std::function<void(Shard&)> fn, std::function<void()> done);

  // Retained store: an empty payload deletes the topic's retained message.
  void SetRetained(const MessagePtr& message);
  std::vector<MessagePtr> MatchRetained(std::string_view filter) const;
  bool IsDeniedSubscribe(std::string_view filter) const;
  bool IsDeniedPublish(std::string_view topic) const;

  StatsSnapshot Stats() const;

 private:
  void Accept();

  BrokerConfig config_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  uint32_t next_accept_shard_ = 0;
  mutable std::mutex retained_mu_;
  topic::RetainedTrie<MessagePtr> retained_;
  bool started_ = false;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_BROKER_H_
