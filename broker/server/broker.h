// Broker: the single-node MQTT broker. Owns the shards (one thread each), the listener, and
// the retained message store. Client ids are spread over shards by hash, so everything
// about one client id lives on one thread; subscriptions are replicated to every shard's
// trie so publishes match locally without locks.
//
// Thread-safety: Start/Stop from one controlling thread; Broadcast, HomeShard, retained()
// and Stats from any thread. Errors: Start returns a status (bad address,
// port in use); nothing else fails.
#ifndef SLUICE_BROKER_SERVER_BROKER_H_
#define SLUICE_BROKER_SERVER_BROKER_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <utility>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/server/broker_config.h"
#include "broker/cluster/cluster_node.h"
#include "broker/server/durable.h"
#include "broker/server/retained_store.h"
#include "broker/server/security.h"
#include "broker/server/shard.h"
#include "mqtt/topic/retained_trie.h"

namespace sluice::broker {

struct StatsSnapshot {
  uint64_t connections_current = 0, connections_accepted = 0, messages_received = 0,
           messages_delivered = 0, messages_dropped = 0, sessions = 0, subscriptions = 0,
           retained = 0;
};

class Broker {
 public:
  // `clock` (not owned, outlives the broker) is every shard's time.
  explicit Broker(BrokerConfig config, const Clock* clock = SystemClock::Get());
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

  // The retained messages (retained_store.h: set in the log's apply order). Any thread.
  RetainedStore& retained() { return retained_; }
  const RetainedStore& retained() const { return retained_; }

  StatsSnapshot Stats() const;

  // TLS/WebSocket listeners, admission limits, password file, ACL (security.h).
  Security& security() { return *security_; }
  // The commit log (durable.h): open from Start until the end of Stop.
  Durable* durable() { return durable_.get(); }
  // ==== The cluster (broker_cluster.cc; README "Cluster") ===================================
  // Null when standalone. In a cluster every node replicates every partition and routes what
  // its replica applies (OnApplied); what is not in the log goes to the peers over the
  // node links (ToPeers) and arrives in FromPeer.
  ClusterNode* cluster() { return cluster_.get(); }
  bool clustered() const { return cluster_ != nullptr; }
  // A message routed here that is not in the log: to every other node (QoS 0, memory mode),
  // except broker topics ($...), which each node makes for itself.
  void ToPeers(const Message& message);
  // Whether `m` goes through the log: Durable::IsStored, and with durability=memory only
  // retained messages.
  bool IsStored(const Message& m) const {
    return Durable::IsStored(m) && (store_qos12_ || m.retain);
  }
  // Stored, and acknowledged/routed only once durable (QoS 1/2): Shard::PublishStored.
  bool StoresBeforeRouting(const Message& m) const { return m.qos > 0 && IsStored(m); }

  // What recovery found in the log at start (broker_durable.cc).
  struct RecoveryCounts {
    size_t sessions = 0, sessions_expired = 0, retained = 0;
    size_t messages = 0;             // window entries restored (their messages load on resume)
  };

  // ==== Admin and introspection (broker_admin.cc; used by broker/admin) ====================
  // The *Now methods read the runtime settings (RuntimeConfig) and are for the shards' hot
  // path: one atomic pointer load, no lock. The other methods are for the admin API, metrics
  // and $SYS: call them from a thread that is NOT a shard thread; they post to the shards and
  // wait at most kAdminWaitMs for the answers (DeadlineExceeded otherwise). Errors: NotFound
  // for an unknown client id or topic, FailedPrecondition when the action does not apply.
  static constexpr int64_t kAdminWaitMs = 2000;
  struct ClientInfo {
    std::string client_id;
    bool connected = false;
    mqtt::Version version = mqtt::Version::k311;
    uint32_t shard = 0;
    uint32_t expiry_s = 0;  // kSessionNeverExpires: never
    uint64_t inflight = 0, queued = 0, subscriptions = 0;
    uint64_t dropped_queue_full = 0, dropped_expired = 0;
    // Records of the log behind the session, in all and per partition (non-zero ones), the
    // deliveries it read back from the log, records hard retention took from it.
    uint64_t lag_records = 0;
    std::vector<std::pair<uint32_t, uint64_t>> lag;
    uint64_t read_from_log = 0, records_lost = 0;
    bool will_pending = false;  // a delayed will waits to be published
    // While connected: the client's "HOST:PORT" and when its connection began (Unix ms).
    std::string peer;
    int64_t connected_unix_ms = 0;
  };
  struct ClientQuery {
    enum class State { kAll, kConnected, kDisconnected };
    std::string prefix;  // client ids starting with this
    State state = State::kAll;
    std::string after;   // paging: only ids ordered after this one
    size_t limit = 100;
  };
  struct SubscriptionInfo {
    std::string client_id;
    std::string filter;  // as subscribed, with any $share/GROUP/ prefix
    topic::SubscriptionOptions options;
  };
  struct Gauges {  // summed over shards
    uint64_t sessions = 0, sessions_connected = 0, subscriptions = 0, inflight = 0, queued = 0;
    // Sessions by lag (records behind, see ClientInfo): lag_buckets[i] counts those with a lag
    // of at most kLagBounds[i]; the last one, the rest. And the total.
    static constexpr std::array<uint64_t, 7> kLagBounds = {0, 10, 100, 1000, 10000, 100000,
                                                           1000000};
    std::array<uint64_t, kLagBounds.size() + 1> lag_buckets{};
    uint64_t lag_records = 0;
  };
  // Sessions (online and offline) matching `query`, ordered by client id, at most query.limit.
  absl::StatusOr<std::vector<ClientInfo>> ListClients(const ClientQuery& query);
  absl::StatusOr<ClientInfo> GetClient(const std::string& client_id);
  // Disconnects the client's connection (MQTT 5: DISCONNECT 0x98 administrative action; its
  // will is discarded). `discard_session` also ends its session (works for offline ones);
  // otherwise a session with an expiry interval stays. FailedPrecondition when the client is
  // offline and its session is kept.
  absl::Status KickClient(const std::string& client_id, bool discard_session);
  // Subscriptions of one client (client_id non-empty) or of every client, keeping those whose
  // filter equals `filter` (when non-empty); ordered by client id then filter, at most limit.
  absl::StatusOr<std::vector<SubscriptionInfo>> ListSubscriptions(const std::string& client_id,
                                                                  const std::string& filter,
                                                                  size_t limit);
  // Deletes the retained message of exactly `topic`; NotFound if there is none.
  absl::Status DeleteRetained(const std::string& topic);
  absl::StatusOr<Gauges> CollectGauges();
  // OK when every shard runs a posted no-op in time (liveness).
  absl::Status PingShards();
  // Publishes a broker-originated retained message (e.g. $SYS/broker/uptime) through the
  // normal routing, on shard 0's thread; returns at once.
  void PublishRetainedFromBroker(std::string topic, std::string payload);
  // Publishes a message on behalf of the broker (e.g. the Kafka->MQTT bridge) from any
  // thread: through the commit log when Durable::IsStored, like a client's; `done` (may be
  // null) runs on shard 0's thread once it is routed (stored, for QoS 1/2), or with the error.
  void InjectPublish(std::shared_ptr<Message> message,
                     std::function<void(absl::Status)> done = nullptr);
  // Called on a shard thread after each record the log stored is routed (partition, offset),
  // e.g. to wake the MQTT->Kafka bridge. Set before Start; must be cheap and thread-safe.
  void SetStoredListener(std::function<void(uint32_t partition, int64_t offset)> listener) {
    stored_listener_ = std::move(listener);
  }
  const std::function<void(uint32_t, int64_t)>& stored_listener() const { return stored_listener_; }
  // Runtime settings: validated by the caller (BrokerConfig's schema). Swaps them in for every
  // shard (and sets the log level); the previous version is freed once every shard has passed
  // a quiescent point.
  void ApplyRuntimeConfig(const RuntimeConfig& runtime);
  RuntimeConfig CurrentRuntimeConfig() const;
  bool IsDeniedSubscribeNow(std::string_view filter) const;
  bool IsDeniedPublishNow(std::string_view topic) const;
  uint32_t MaxQueuedMessagesNow() const;
  // The limits new sessions get (session.h): immutable, kept alive as long as the broker, so
  // a session holds a pointer and never a copy. Any thread.
  const SessionLimits* SessionLimitsNow() const {
    return session_limits_.load(std::memory_order_acquire);
  }

 private:
  // Null until the first ApplyRuntimeConfig: config_ holds the settings until then.
  std::atomic<const RuntimeConfig*> runtime_{nullptr};
  mutable std::mutex runtime_mu_;  // serializes ApplyRuntimeConfig; guards runtime_versions_
  std::vector<std::unique_ptr<const RuntimeConfig>> runtime_versions_;
  // Every SessionLimits ever made (sessions point at theirs); guarded by runtime_mu_.
  std::vector<std::unique_ptr<const SessionLimits>> session_limits_versions_;
  std::atomic<const SessionLimits*> session_limits_{nullptr};
  void UpdateSessionLimits(uint32_t max_queued_messages);
  // ==== end of the admin block ==============================================================

 private:
  void Accept();
  // Rebuilds sessions, subscriptions, queues, QoS 2 state and retained messages from the log
  // (before the shard threads start); saves every persistent session at a clean stop.
  absl::Status RecoverDurable(RecoveryCounts* counts);
  void SaveDurableOnStop();
  // An accept failed: refuses one waiting client when out of descriptors (spending the
  // reserve descriptor), counts, logs at most once a second. False when Accept() will be
  // re-armed after a back-off instead of at once.
  bool OnAcceptError(const boost::system::error_code& ec);

  // Cluster mode: the commit log's transport and the node links (before Durable::Open), and
  // what arrives from them.
  absl::Status StartCluster(Durable::ClusterOptions* options);
  void OnApplied(std::vector<storage::AppliedRecord> records);
  void OnEvent(std::string_view event);  // a metadata event: session claims
  void FromPeer(NodeId from, storage::Record record);

  BrokerConfig config_;
  const Clock* clock_;
  // Declared before the shards: connections (destroyed with the shards) hold its admission
  // tickets.
  std::unique_ptr<Security> security_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  uint32_t next_accept_shard_ = 0;
  int reserve_fd_ = -1;  // kept open to refuse clients politely when out of descriptors
  std::unique_ptr<boost::asio::steady_timer> accept_backoff_;
  uint64_t accept_errors_since_log_ = 0;
  int64_t last_accept_error_log_ms_ = 0;
  RetainedStore retained_;
  std::function<void(uint32_t, int64_t)> stored_listener_;
  bool store_qos12_ = true;  // durability == "log"
  bool started_ = false;
  // Before durable_: the log holds its transport until it closes.
  std::unique_ptr<ClusterNode> cluster_;
  // Declared after the shards: destroyed first, its pending callbacks post into io_contexts
  // that still exist.
  std::unique_ptr<Durable> durable_;
  std::unique_ptr<RecordSource> record_source_;  // over durable_
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_BROKER_H_
