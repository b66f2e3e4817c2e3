// Shard: one thread, one io_context, and everything that belongs to the client ids that
// hash to it: their sessions, their connections, timers for keep alive, will delay and
// session expiry. Each shard also holds a replica of the broker's subscription trie, so a
// publish is matched on the publisher's own thread with no lock; deliveries to sessions of
// other shards are posted to those shards in one batch per shard.
//
// Thread-safety: every method runs on the shard's own thread (callers elsewhere post to
// io()). Ownership: Broker owns the shards; a shard owns its SessionHosts; connections are
// shared_ptr-owned by their pending asynchronous operations.
#ifndef SLUICE_BROKER_SERVER_SHARD_H_
#define SLUICE_BROKER_SERVER_SHARD_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "base/boxed.h"
#include "base/clock.h"
#include "base/rng.h"
#include "mqtt/codec/packets.h"
#include "broker/server/session_claims.h"
#include "broker/server/durable.h"
#include "broker/server/deadline_wheel.h"
#include "broker/server/poller.h"
#include "broker/server/record_source.h"
#include "broker/server/router.h"
#include "broker/server/session_reader.h"
#include "broker/server/stats.h"
#include "broker/session/lifecycle.h"
#include "broker/session/session.h"
#include "mqtt/topic/subscription_trie.h"

namespace sluice::broker {

class Broker;
class Connection;


// A steady_timer created on first use: most sessions never arm one, and an Asio timer is
// ~110 bytes of every idle session otherwise.
class LazyTimer {
 public:
  boost::asio::steady_timer& Get(boost::asio::io_context& io) {
    if (!timer_) timer_ = std::make_unique<boost::asio::steady_timer>(io);
    return *timer_;
  }
  void cancel() {
    if (timer_) timer_->cancel();
  }

 private:
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

// A persistent session's place in the commit log (durable.h): per partition, the floor its
// cursor starts from and the last cursor committed. Where it reads next is the Session's.
struct DurableProgress {
  std::vector<int64_t> base;
  std::vector<int64_t> committed;  // -1: none yet
  bool dirty = true;               // deliveries or acks since the last cursor commit
};

// An incoming QoS 2 message between PUBLISH and PUBREL: the partition that holds its dedup
// entry, whether the append is durable yet, and re-sent PUBLISHes waiting for that.
struct IncomingQos2 {
  uint32_t partition = 0;
  bool stored = false;
  std::vector<std::function<void(bool stored)>> waiters;
};

struct SessionHost {
  SessionHost(std::string client_id, const SessionLimits* limits)
      : session(std::move(client_id), limits) {}
  Session session;
  std::shared_ptr<Connection> connection;  // null while the client is away
  mqtt::Version version = mqtt::Version::k311;
  uint32_t expiry_s = 0;
  Boxed<mqtt::Will> pending_will;  // a will waiting for its delay (heap: usually absent)
  // When the will goes and the session ends while the client is away (session/lifecycle.h),
  // and the one timer that brings the shard back then.
  SessionLifecycle lifecycle;
  LazyTimer lifecycle_timer;
  uint64_t generation = 0;  // bumped on every attach/detach, so stale timers do nothing
  bool fetch_pending = false;  // SessionReader: a read for this session is under way
  Boxed<DurableProgress> durable;  // set while the session is persistent (expiry > 0)
  // Incoming QoS 2 messages that went to the log, by packet id (until PUBREL).
  Boxed<absl::flat_hash_map<uint16_t, IncomingQos2>> incoming_stored;
  // Filters subscribed while the session was behind, with the high watermarks then: what it
  // reads back from the log for them starts there (MQTT: a subscription gets what is
  // published after it). Dropped once the session is live everywhere.
  Boxed<absl::flat_hash_map<std::string, std::vector<int64_t>>> subscribed_at;
};

class Shard final : public Router::Target {
 public:
  // `clock` (not owned, outlives the shard): every time the shard's rules read — keep alive,
  // will delay, session expiry, message expiry, rate limits.
  Shard(Broker* broker, uint32_t index, uint64_t seed, const Clock* clock);
  ~Shard();

  boost::asio::io_context& io() { return io_; }
  uint32_t index() const { return index_; }
  Broker& broker() { return *broker_; }
  BrokerStats& stats() { return stats_; }
  topic::SubscriptionTrie& trie() { return router_.trie(); }
  int64_t NowMs() const;
  // 64 KiB for synchronous socket reads on this shard's thread; contents valid only until
  // the caller returns.
  std::vector<char>& read_scratch() { return read_scratch_; }

  void StartThread();
  // Lets the io_context return once it has no more work.
  void ReleaseWork();
  // Waits until the thread's io_context has returned; false at the deadline.
  bool WaitFinished(std::chrono::steady_clock::time_point deadline);
  void StopIo();
  void JoinThread();
  // On the shard's thread: disconnects every client (MQTT 5: 0x8B) and cancels all timers.
  void Shutdown();

  // Sessions.
  SessionHost* Find(std::string_view client_id);
  // Gives `connection` the session of `client_id`: an existing connection of it is taken
  // over (closed with 0x8E); clean_start discards any existing session. Sets
  // *session_present when an existing session is resumed.
  SessionHost* TakeSession(const std::string& client_id, bool clean_start,
                           std::shared_ptr<Connection> connection, bool* session_present);
  // The connection attached to `host` has closed. `will` (if any) is published now or after
  // `will_delay_s`, and the session ends now or after its expiry interval.
  void OnConnectionClosed(SessionHost* host, const Connection* connection,
                          Boxed<mqtt::Will> will);
  void DestroySession(const std::string& client_id);
  // Recreates a saved, offline session (before the shard's thread starts); its expiry timer
  // starts now.
  SessionHost* RestoreSession(const std::string& client_id, mqtt::Version version,
                              uint32_t expiry_s);

  // Routing. Route matches the message on this shard's trie and delivers to every matching
  // session, here or on other shards; returns how many sessions it was addressed to.
  size_t Route(const MessagePtr& message);
  void PublishWill(const mqtt::Will& will, const std::string& client_id);
  // Router::Target: a delivery to a session of this shard / a batch for another shard.
  void Deliver(std::string_view client_id, Delivery delivery) override;
  void Post(uint32_t shard, Router::Batch batch) override;

  // ==== The commit log (shard_durable.cc) ====================================================
  // Publishing a message this shard received (from a client, a will, the broker itself):
  // Broker::StoresBeforeRouting(m) -> PublishStored, else PublishNow.
  // PublishStored appends a QoS 1/2 message to `partition` (Durable::PartitionFor); once
  // durable, the partition's owner shard routes it (so each partition's messages reach every
  // shard in offset order) and `done` runs on this shard with the number of sessions it was
  // addressed to, or the error.
  void PublishStored(std::shared_ptr<Message> message, uint32_t partition,
                     uint16_t qos2_packet_id, std::function<void(absl::StatusOr<size_t>)> done);
  // Retains (if retained) and routes at once; a retained QoS 0 message is also stored behind
  // (Broker::IsStored). Returns the number of sessions it was addressed to.
  size_t PublishNow(std::shared_ptr<Message> message);
  // Owner shard of message->partition: sets the retained store, routes, advances the
  // partition's routed watermark.
  size_t RouteStored(const MessagePtr& message);
  // From another thread: an append finished. With `message`, route it here (the partition's
  // owner) and report to `done` on the origin shard; without, call `done` here (the origin)
  // with `status`, or with `matched` when the status is ok. Results queue in an inbox that
  // one post drains: a group commit of many records wakes a shard once, not once per record
  // (each wake-up of a sleeping shard is an epoll_ctl and a context switch).
  struct StoredResult {
    std::shared_ptr<Message> message;
    absl::Status status;
    Shard* origin = nullptr;
    std::function<void(absl::StatusOr<size_t>)> done;
    size_t matched = 0;
    bool retain_only = false;  // set `message` in the retained store (apply order), no routing
  };
  void EnqueueStored(StoredResult result);
  uint32_t OwnerOf(uint32_t partition) const;
  // Incoming QoS 2 through the log: registered at PUBLISH, completed when durable (on the
  // publisher's shard; releases the log's entry if the session no longer wants it), taken at
  // PUBREL (nullopt: never stored, or not durable yet).
  IncomingQos2& BeginStoredQos2(SessionHost* host, uint16_t packet_id, uint32_t partition);
  IncomingQos2* FindStoredQos2(SessionHost* host, uint16_t packet_id);
  void OnQos2Stored(const std::string& client_id, uint16_t packet_id, uint32_t partition,
                    const absl::Status& status);
  std::optional<uint32_t> TakeIncomingPartition(SessionHost* host, uint16_t packet_id);
  // Sessions reading their backlog from the log (session_reader.h); set up by the broker once
  // the log is open.
  SessionReader& reader() { return *reader_; }
  // Cluster mode: CONNECTs claim their client id cluster-wide first (session_claims.h).
  // Called before the shard's thread starts; claims() is null in a standalone broker.
  void EnableClaims(NodeId self, size_t waiting_max) {
    claims_ = std::make_unique<SessionClaims>(this, self, waiting_max);
  }
  SessionClaims* claims() { return claims_.get(); }
  void SetRecordSource(RecordSource* source) {
    record_source_ = source;
    reader_ = std::make_unique<SessionReader>(this, source);
  }
  // Before a resumed session re-sends its window: the messages it released while away
  // (Session::MissingInflight), read back from the log. Entries whose record is gone stay
  // empty (Session::Resume drops them, counted).
  void LoadInflight(SessionHost* host);
  // The watermarks of every partition on this shard (Session::Detach).
  const std::vector<int64_t>& watermarks() const { return watermark_; }
  // Persistent sessions: the record to store, saving it (done on this shard, may be null),
  // the cursors to commit now, and ending one (record, cursors, QoS 2 entries).
  SessionRecord MakeSessionRecord(const SessionHost& host, bool disconnected) const;
  void SaveSession(SessionHost* host, std::function<void(absl::Status)> done);
  // A session record could not be saved: counted (sluice_session_save_failures_total) and
  // logged with the client id and what the save was for.
  void OnSessionSaveFailed(SessionHost* host, const char* what, const absl::Status& status);
  // Takes `client_id`'s subscriptions (plain filter, group) out of every shard's trie /
  // puts removed ones back (session and tries): undoing a SUBSCRIBE / UNSUBSCRIBE whose
  // session record could not be saved.
  void RemoveFromTries(const std::string& client_id,
                       std::vector<std::pair<std::string, std::string>> filters);
  void Resubscribe(SessionHost* host,
                   const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs);
  void CommitCursors(SessionHost* host);
  std::vector<std::pair<uint32_t, int64_t>> CursorsOf(const SessionHost& host) const;
  void ForgetDurableSession(SessionHost* host);
  // A session becomes persistent (expiry > 0) or stops being so.
  void UpdatePersistence(SessionHost* host, bool session_present);
  // Recovery (before the thread starts) and the periodic cursor round.
  void InitWatermarks(const std::vector<int64_t>& high_watermarks);
  void StartCursorTimer();
  void MarkDirty(SessionHost* host) {
    if (host->durable && !host->durable->dirty) {
      host->durable->dirty = true;
      dirty_sessions_.push_back(host->session.client_id());
    }
  }

  // Output batching: `c` has bytes to send; all such connections are flushed together once
  // the handlers already queued on this shard have run.
  void ScheduleFlush(std::shared_ptr<Connection> c);

  // Connection deadlines (connect timeout, keep alive, drain) in one wheel per shard, driven
  // by one timer that runs while any deadline is set; Connection::OnDeadline runs once one
  // has passed (late by at most DeadlineWheel::kTickMs).
  void ScheduleDeadline(Connection* c, int64_t deadline_ms);
  void CancelDeadline(Connection* c);
  bool tearing_down() const { return tearing_down_; }

  // Connections registry: holds each connection from Start until its transport is closed
  // or handed to another shard (plain TCP connections have no pending Asio operation that
  // would hold them); used for shutdown. ReleaseConnection lets go after the current handler,
  // so the caller may still touch the connection.
  void AddConnection(std::shared_ptr<Connection> c) { connections_.insert(std::move(c)); }
  void ReleaseConnection(Connection* c);
  // The epoll set of this shard's plain TCP sockets (poller.h).
  Poller& poller() { return *poller_; }
  // Disconnects every client with `reason` (on this shard's thread).
  void DisconnectAll(uint8_t reason);

  std::vector<const SessionHost*> Sessions() const;

 private:
  void ArmLifecycle(SessionHost* host);
  void OnLifecycleTime(SessionHost* host);
  void OnCursorTick();
  void ArmWheelTimer();
  void OnPollBatch(const std::vector<Poller::Ready>& batch);
  void OnWheelTick();
  void DrainStored();

  Broker* broker_;
  uint32_t index_;
  const Clock* clock_;
  // Set by the destructor: connections destroyed from then on (the registry, handlers still
  // queued in io_) only close their sockets; the wheel and the Poller may be gone. Declared
  // before io_ so that it outlives io_'s queued handlers.
  bool tearing_down_ = false;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::mutex finished_mu_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  BrokerStats stats_;
  SeededRng rng_;
  std::vector<char> read_scratch_ = std::vector<char>(64 * 1024);
  Router router_;
  // Keyed by a view of the session's own client id (one copy of the id per session).
  absl::flat_hash_map<absl::string_view, std::unique_ptr<SessionHost>> sessions_;
  absl::flat_hash_set<std::shared_ptr<Connection>> connections_;
  std::unique_ptr<Poller> poller_;
  std::vector<std::shared_ptr<Connection>> poll_hold_;  // the batch being dispatched
  std::vector<std::shared_ptr<Connection>> dirty_;
  std::vector<std::shared_ptr<Connection>> flushing_;
  bool flush_posted_ = false;
  std::vector<Outbound> deliver_out_;  // reused by Deliver
  // Commit log: routed_[p] (partitions this shard owns) = one past the last offset routed;
  // watermark_[p] = an offset below which every message of p has reached this shard's
  // sessions (advanced by the owner's posts, which follow its deliveries in FIFO order).
  std::vector<int64_t> routed_;
  std::vector<int64_t> watermark_;
  std::vector<std::string> dirty_sessions_;
  std::unique_ptr<boost::asio::steady_timer> cursor_timer_;
  uint64_t cursor_ticks_ = 0;
  DeadlineWheel wheel_{NowMs()};
  std::unique_ptr<boost::asio::steady_timer> wheel_timer_;
  bool wheel_timer_armed_ = false;
  std::vector<DeadlineWheel::Entry*> wheel_due_;
  bool shutting_down_ = false;
  std::mutex stored_mu_;
  std::vector<StoredResult> stored_inbox_;    // guarded by stored_mu_
  std::vector<StoredResult> stored_draining_;  // the shard's thread only
  RecordSource* record_source_ = nullptr;  // the broker's
  std::unique_ptr<SessionReader> reader_;
  std::unique_ptr<SessionClaims> claims_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_SHARD_H_
