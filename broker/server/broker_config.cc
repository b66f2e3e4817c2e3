#include "broker/server/broker_config.h"

#include <cstdlib>

#include "mqtt/topic/topic.h"

namespace sluice::broker {

void BrokerConfig::Register(ConfigSchema* s) {
  s->AddString("listen", &listen, "MQTT listener address HOST:PORT (port 0 picks a free port).");
  s->AddString("data_dir", &data_dir, "Directory for persistent state.");
  s->AddInt("threads", &threads, 0, 256, "Worker threads (shards); 0 means one per core.");
  s->AddBool("allow_anonymous", &allow_anonymous,
             "Accept clients that send no user name.");
  s->AddInt("max_packet_size", &max_packet_size, 64, 268435455,
            "Largest MQTT packet accepted, in bytes; larger ones get DISCONNECT 0x95.");
  s->AddInt("receive_maximum", &receive_maximum, 1, 65535,
            "QoS 1/2 publishes a client may have unacknowledged towards the broker (MQTT 5).");
  s->AddInt("max_inflight", &max_inflight, 1, 65535,
            "Outgoing QoS 1/2 window for clients that state no Receive Maximum (MQTT 3.1.1).");
  s->AddInt("max_queued_messages", &max_queued_messages, 0, 100000000,
            "Opt-in (0 = off): a session's undelivered QoS 1/2 messages wait in memory, at most "
            "this many, and more are dropped and counted (Mosquitto's behaviour). Off, sessions "
            "read their backlog from the commit log and never drop an acknowledged message.");
  s->AddInt("read_ahead_messages", &read_ahead_messages, 0, 1000000,
            "Messages an online session keeps in memory beyond its inflight window; beyond it "
            "(a slow subscriber) it reads them from the commit log as it catches up.");
  s->AddInt("read_ahead_bytes", &read_ahead_bytes, 0, 1LL << 32,
            "The same bound in bytes (topic + payload).");
  s->AddInt("memory_queue_max_messages", &memory_queue_max_messages, 0, 100000000,
            "Messages that are not in the commit log (durability: memory, a $share group's "
            "picks, retained copies and replays on SUBSCRIBE) a session may hold in memory; "
            "more are dropped and counted. 0: no limit.");
  s->AddInt("topic_alias_maximum", &topic_alias_maximum, 0, 65535,
            "Topic aliases a client may use towards the broker (MQTT 5).");
  s->AddInt("server_keep_alive", &server_keep_alive, 0, 65535,
            "When >0, the keep alive (seconds) the broker imposes on MQTT 5 clients.");
  s->AddInt("max_keep_alive", &max_keep_alive, 0, 65535,
            "When >0, MQTT 5 clients asking a longer (or no) keep alive get this one instead "
            "(CONNACK Server Keep Alive).");
  s->AddInt("max_session_expiry", &max_session_expiry, 0, 0xFFFFFFFFLL,
            "Longest session expiry interval granted, in seconds.");
  s->AddInt("connect_timeout_s", &connect_timeout_s, 1, 3600,
            "Seconds a new connection has to send CONNECT.");
  s->AddInt("max_write_buffer_bytes", &max_write_buffer_bytes, 65536, 1LL << 32,
            "Unsent bytes per connection beyond which QoS 0 messages are dropped (counted).");
  s->AddStringList("deny_subscribe", &deny_subscribe,
                   "Topic filters nobody may subscribe to (SUBACK 0x87 in MQTT 5, 0x80 in 3.1.1).");
  s->AddStringList("deny_publish", &deny_publish,
                   "Topic filters nobody may publish to (PUBACK 0x87 in MQTT 5; dropped in 3.1.1).");
  s->AddEnum("shared_subscription_strategy", &shared_subscription_strategy,
             {"round_robin", "random"}, "How a $share group picks the member for a message.");
  s->AddEnum("log_level", &log_level, {"debug", "info", "warn", "error", "off"}, "Log level.");
  s->AddInt("ready_fd", &ready_fd, -1, 65535,
            "File descriptor to write the bound HOST:PORT to once listening, then close "
            "(for supervisors and tests).");
  s->AddString("admin_listen", &admin_listen,
               "gRPC admin API address HOST:PORT (for sluicectl); empty disables it. Keep it on "
               "loopback or a private network: it can disconnect clients and delete data.");
  s->AddString("metrics_listen", &metrics_listen,
               "Prometheus HTTP address HOST:PORT serving /metrics, /healthz and /readyz; "
               "empty disables it.");
  s->AddInt("sys_interval_s", &sys_interval_s, 0, 86400,
            "Seconds between updates of the retained $SYS/broker/... statistics topics; 0 "
            "disables them.");
  s->AddInt("log_partitions", &log_partitions, 1, 4096,
            "Partitions of the commit log; fixed when data_dir/log is created.");
  s->AddInt("log_partition_key_levels", &log_partition_key_levels, 0, 64,
            "Leading topic levels that choose a message's partition (0 = the whole topic); "
            "fixed when the log is created.");
  s->AddEnum("log_fsync", &log_fsync, {"batch", "interval", "none"},
             "batch: a QoS 1/2 publish is acknowledged only after the write holding it was "
             "fsynced; interval: acknowledged once written, fsynced every "
             "log_fsync_interval_ms (power loss may lose that much); none: never fsync (kill "
             "-9 loses nothing, power loss may lose what the OS had not written).");
  s->AddInt("log_fsync_interval_ms", &log_fsync_interval_ms, 1, 60000,
            "log_fsync=interval: milliseconds between fsyncs of the commit log.");
  s->AddEnum("durability", &durability, {"log", "memory"},
             "log: every QoS 1/2 publish is stored in the commit log before its PUBACK/PUBREC "
             "and survives a crash; memory: QoS 1/2 messages stay in memory like Mosquitto "
             "without persistence (faster; a crash loses queued messages). Retained messages, "
             "sessions and subscriptions are stored in both modes.");
  s->AddInt("log_retention_ms", &log_retention_ms, 0, 1LL << 50,
            "Records older than this are deleted (0 = no time limit), except what a "
            "persistent session still needs.");
  s->AddInt("log_retention_bytes", &log_retention_bytes, 0, 1LL << 50,
            "Per partition: oldest records are deleted beyond this size (0 = no limit), except "
            "what a persistent session still needs.");
  s->AddInt("log_hard_retention_ms", &log_hard_retention_ms, 0, 1LL << 50,
            "Records older than this are deleted even if a persistent session still needs "
            "them (counted and logged); 0 = never.");
  s->AddInt("log_hard_retention_bytes", &log_hard_retention_bytes, 0, 1LL << 50,
            "Per partition size beyond which records go even if a session needs them; 0 = "
            "never.");
  s->AddInt("log_retention_check_s", &log_retention_check_s, 1, 86400,
            "Seconds between retention passes over the log.");
  s->AddInt("log_memory_budget_mb", &log_memory_budget_mb, 4, 1 << 20,
            "Memory of the commit log's database, all of it: block cache, index and filter "
            "blocks and memtables (which take up to half). More helps reads of old records and "
            "write bursts.");
  s->AddInt("cursor_commit_interval_ms", &cursor_commit_interval_ms, 10, 600000,
            "How often persistent sessions save their position in the log; after a crash "
            "messages acknowledged since the last save may be delivered again.");
  security.Register(s);
  s->AddInt("node_id", &cluster.node_id, 1, int64_t{1} << 31,
            "This node's id in the cluster (unique, kept with its data dir).");
  s->AddString("cluster_listen", &cluster.cluster_listen,
               "HOST:PORT other nodes reach this node on (Raft and node-to-node publishes); "
               "needed with cluster_peers.");
  s->AddStringList("cluster_peers", &cluster.cluster_peers,
                   "Every member of the cluster, this node included, as ID@HOST:PORT (their "
                   "cluster_listen); empty: a standalone broker.");
  s->AddInt("cluster_publish_queue_max", &cluster.cluster_publish_queue_max, 16, 1 << 24,
            "Messages not in the log (QoS 0) waiting to go to one peer node; beyond it they "
            "are dropped and counted.");
  s->AddValidator([this]() -> absl::Status { return ValidateClusterConfig(cluster); });
  s->AddValidator([this]() -> absl::Status {
    std::string host;
    uint16_t port;
    if (!SplitHostPort(listen, &host, &port))
      return absl::InvalidArgumentError("invalid value '" + listen +
                                        "' for listen: expected HOST:PORT");
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"admin_listen", &admin_listen},
                                     {"metrics_listen", &metrics_listen}})
      if (!value->empty() && !SplitHostPort(*value, &host, &port))
        return absl::InvalidArgumentError("invalid value '" + *value + "' for " + key +
                                          ": expected HOST:PORT or empty (disabled)");
    for (const auto* list : {&deny_subscribe, &deny_publish})
      for (const auto& f : *list)
        if (!topic::IsValidTopicFilter(f))
          return absl::InvalidArgumentError("invalid topic filter '" + f + "' in deny rules");
    return absl::OkStatus();
  });
}

RuntimeConfig RuntimeConfig::From(const BrokerConfig& c) {
  RuntimeConfig r;
  r.deny_subscribe = c.deny_subscribe;
  r.deny_publish = c.deny_publish;
  r.max_queued_messages = c.max_queued_messages;
  r.log_level = c.log_level;
  return r;
}

void RuntimeConfig::ApplyTo(BrokerConfig* c) const {
  c->deny_subscribe = deny_subscribe;
  c->deny_publish = deny_publish;
  c->max_queued_messages = max_queued_messages;
  c->log_level = log_level;
}

bool RuntimeConfig::IsRuntimeKey(const std::string& key) {
  return key == "deny_subscribe" || key == "deny_publish" || key == "max_queued_messages" ||
         key == "log_level";
}

}  // namespace sluice::broker
