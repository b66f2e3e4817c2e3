// BrokerConfig: every setting of a single-node broker, with its default, registered into a
// ConfigSchema so that the YAML file and the command line both reach it. Value type.
#ifndef SLUICE_BROKER_SERVER_BROKER_CONFIG_H_
#define SLUICE_BROKER_SERVER_BROKER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/host_port.h"
#include "broker/cluster/cluster_config.h"
#include "broker/server/security_config.h"

namespace sluice::broker {

struct BrokerConfig {
  std::string listen = "0.0.0.0:1883";
  std::string data_dir = "./data";
  int64_t threads = 0;  // 0 = one per core
  bool allow_anonymous = true;
  int64_t max_packet_size = 1 << 20;
  int64_t receive_maximum = 100;        // incoming QoS 1/2 window granted to each client (5.0)
  int64_t max_inflight = 100;           // outgoing window when the client states none (3.1.1)
  // Opt-in (0 = off): a session's undelivered QoS 1/2 messages wait in memory, at most this
  // many, and beyond it are dropped (Mosquitto's behaviour). Off, sessions read their backlog
  // from the commit log and never drop an acknowledged message (README "Sessions").
  int64_t max_queued_messages = 0;
  int64_t read_ahead_messages = 128;         // per online session, beyond the window
  int64_t read_ahead_bytes = 256 << 10;
  int64_t memory_queue_max_messages = 1000;  // deliveries not in the log (durability: memory...)
  int64_t topic_alias_maximum = 64;     // incoming aliases accepted per connection (5.0)
  int64_t server_keep_alive = 0;        // >0: the keep alive every client must use (seconds)
  int64_t max_keep_alive = 0;           // >0: longer (or zero) keep alives are cut to this
  int64_t max_session_expiry = 0xFFFFFFFF;  // seconds; longer requests are reduced to this
  int64_t connect_timeout_s = 10;       // a socket must send CONNECT within this
  int64_t max_write_buffer_bytes = 8 << 20;  // per connection; QoS 0 beyond it is dropped
  std::vector<std::string> deny_subscribe;
  std::vector<std::string> deny_publish;
  std::string shared_subscription_strategy = "round_robin";
  std::string log_level = "info";
  int64_t ready_fd = -1;
  // Operations (broker/admin). Empty disables the listener.
  std::string admin_listen = "127.0.0.1:9883";   // gRPC admin API: loopback only by default
  std::string metrics_listen = "0.0.0.0:9884";   // Prometheus /metrics, /healthz, /readyz
  int64_t sys_interval_s = 10;                   // $SYS/ topics refresh; 0 disables them
  // The commit log (storage/, in data_dir/log): QoS 1/2 and retained messages, sessions.
  int64_t log_partitions = 16;            // fixed when the log is created
  int64_t log_partition_key_levels = 0;   // topic levels hashed to pick a partition; 0 = all
  std::string log_fsync = "batch";        // batch: fsync before acking; interval; none (README)
  int64_t log_fsync_interval_ms = 200;    // log_fsync=interval: the fsync period
  std::string durability = "log";         // log: QoS 1/2 stored before the ack; memory: not
  int64_t log_retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t log_retention_bytes = 0;        // per partition; 0 = no size limit
  int64_t log_hard_retention_ms = 0;      // 0 = persistent sessions always hold retention back
  int64_t log_hard_retention_bytes = 0;
  int64_t log_retention_check_s = 60;
  int64_t log_memory_budget_mb = 16;      // RocksDB's cache + memtables (storage README)
  int64_t cursor_commit_interval_ms = 1000;  // how often sessions' log positions are saved
  // TLS/WebSocket listeners, authentication, ACL, limits (security_config.h).
  SecurityConfig security;
  // Cluster membership (broker/cluster/cluster_config.h); empty peers: standalone.
  ClusterConfig cluster;

  // Registers every field; adds validators for cross-field rules (e.g. HOST:PORT syntax).
  void Register(ConfigSchema* schema);
};

// The settings that may change while the broker runs (admin ReloadConfig). The broker holds
// one immutable RuntimeConfig at a time and swaps it whole (Broker::ApplyRuntimeConfig); the
// hot path reads it through one atomic pointer load. Value type.
struct RuntimeConfig {
  std::vector<std::string> deny_subscribe;
  std::vector<std::string> deny_publish;
  int64_t max_queued_messages = 0;  // applies to sessions created after the change
  std::string log_level = "info";

  static RuntimeConfig From(const BrokerConfig& config);
  // Copies these settings into `config` (for the configuration view).
  void ApplyTo(BrokerConfig* config) const;
  // True for the config keys above.
  static bool IsRuntimeKey(const std::string& key);
};

using ::sluice::SplitHostPort;  // base/host_port.h

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_BROKER_CONFIG_H_
