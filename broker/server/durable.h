// Durable: the broker's side of the commit log (storage/log, issue 4). It opens the
// PartitionedLog in data_dir/log, converts messages to log records and back, keeps the record
// of every persistent session in the log's metadata store, and runs retention.
//
// What is durable, and when (README "Durability"):
//   - QoS 1/2 and retained messages: appended before PUBACK/PUBREC (fsync per group commit
//     with log_fsync=batch). The append of a QoS 2 message also stores (publisher, packet id)
//     in the partition, atomically with the record, until PUBREL: a PUBLISH re-sent after a
//     crash is recognised and not stored twice; PUBCOMP goes out once the release is durable.
//   - Persistent sessions (expiry > 0): a SessionRecord (subscriptions, expiry, the log's
//     high watermarks when the session began, its unacknowledged outgoing packet ids) under
//     "s/<client id>"; SUBACK/UNSUBACK wait for it. Their position in each partition is a
//     log cursor "session:<client id>" (the next offset not yet acknowledged), committed every
//     cursor_commit_interval_ms; messages are never copied into the session store.
//
// Thread-safety: every method is thread-safe (PartitionedLog is); encoding functions are pure.
// Errors: Open returns the log's errors (bad layout, storage), others return DataLoss for a
// malformed session record.
#ifndef SLUICE_BROKER_SERVER_DURABLE_H_
#define SLUICE_BROKER_SERVER_DURABLE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mqtt/codec/packets.h"
#include "broker/server/broker_config.h"
#include "broker/session/message.h"
#include "mqtt/topic/subscription_trie.h"
#include "storage/log/partitioned_log.h"

namespace sluice::broker {

struct SessionRecord {
  mqtt::Version version = mqtt::Version::k311;
  uint32_t expiry_s = 0;
  int64_t disconnected_wall_ms = 0;  // 0: connected when written (expiry counts from restart)
  std::vector<std::pair<std::string, topic::SubscriptionOptions>> subscriptions;
  // Per partition: the high watermark when the session began; its cursor never goes below.
  std::vector<int64_t> base;
  struct Inflight {
    uint16_t packet_id = 0;
    bool awaiting_pubcomp = false;
    uint8_t qos = 1;
    bool retain = false;
    uint32_t partition = 0;
    int64_t offset = -1;
    bool operator==(const Inflight&) const = default;
  };
  std::vector<Inflight> inflight;  // outgoing, unacknowledged, in send order

  bool operator==(const SessionRecord&) const = default;
};

std::string EncodeSessionRecord(const SessionRecord& r);
absl::StatusOr<SessionRecord> DecodeSessionRecord(std::string_view data);

class Durable {
 public:
  static constexpr char kSessionPrefix[] = "s/";

  // How a cluster node opens its log (standalone: the defaults).
  struct ClusterOptions {
    transport::Transport* transport = nullptr;  // not owned; null: standalone
    std::vector<NodeId> members;                // every group's voters
    storage::AppliedListener applied_listener;  // every record this replica applies
    storage::EventListener event_listener;      // every metadata event (session claims)
  };
  // Opens (or creates) the log in config.data_dir/log and starts the retention thread.
  static absl::StatusOr<std::unique_ptr<Durable>> Open(const BrokerConfig& config,
                                                       ClusterOptions cluster);
  static absl::StatusOr<std::unique_ptr<Durable>> Open(const BrokerConfig& config) {
    return Open(config, ClusterOptions());
  }
  // Stops retention and closes the log: appends still pending complete with Cancelled.
  ~Durable();

  storage::PartitionedLog& log() { return *log_; }
  uint32_t partitions() const { return log_->partitions(); }
  uint32_t PartitionFor(std::string_view topic) const { return log_->PartitionFor(topic).value(); }
  // The high watermark of every partition, now.
  std::vector<int64_t> HighWatermarks() const;

  // Whether a message goes through the log: QoS 1/2 or retained, except broker topics ($SYS),
  // which are regenerated and never stored.
  static bool IsStored(const Message& m) {
    return (m.qos > 0 || m.retain) && (m.topic.empty() || m.topic[0] != '$');
  }
  static storage::Record ToRecord(const Message& m);
  // A message rebuilt from the log. `now_ms` is the shard's monotonic clock and `wall_now_ms`
  // the wall clock: the record's age keeps counting against its message expiry interval.
  static absl::StatusOr<std::shared_ptr<Message>> ToMessage(const storage::Record& r,
                                                            uint32_t partition, int64_t offset,
                                                            int64_t now_ms, int64_t wall_now_ms);

  // Where a session of this node is kept. Standalone: "s/<client id>" and the cursor
  // "session:<client id>". In a cluster every node shares the metadata group and the
  // partitions, and (until sessions move between nodes) a session belongs to the node its
  // client is connected to: both are scoped by the node, "n<id>/s/<client id>" and
  // "n<id>/session:<client id>", so a node restores only its own sessions.
  bool clustered() const { return !scope_.empty(); }
  std::string SessionPrefix() const { return scope_ + kSessionPrefix; }
  std::string SessionKey(std::string_view client_id) const {
    return SessionPrefix() + std::string(client_id);
  }
  std::string CursorName(std::string_view client_id) const {
    return scope_ + "session:" + std::string(client_id);
  }

  // The completion of a log write nobody waits for (a cursor moved on, an expired session's
  // record deleted, a QoS 2 entry released): a failure is counted
  // (sluice_log_background_failures_total) and logged with `what` and the client id, never
  // dropped. Shutting down (Cancelled) is not a failure. Any thread.
  storage::PartitionedLog::DoneCallback Background(const char* what, std::string client_id);
  uint64_t background_failures() const {
    return background_failures_.load(std::memory_order_relaxed);
  }

 private:
  Durable(std::unique_ptr<storage::PartitionedLog> log, int64_t check_s, std::string scope);
  void RetentionLoop();

  std::unique_ptr<storage::PartitionedLog> log_;
  const int64_t retention_check_s_;
  const std::string scope_;  // "" standalone, "n<id>/" in a cluster
  std::atomic<uint64_t> background_failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread retention_thread_;
};

int64_t WallNowMs();

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_DURABLE_H_
