// Connection: one client's TCP connection. Reads and frames bytes, decodes packets, runs the
// MQTT protocol rules for them against the client's session, and writes what the session
// emits. Lives on the shard that owns its client id: it is accepted on any shard, reads the
// CONNECT there, and moves its socket to the home shard of the client id if that differs.
//
// Thread-safety: all methods on its shard's thread. Ownership: shared_ptr, held by the
// shard's registry from Start until its socket is closed or moved (Shard::AddConnection), by
// pending stream operations (TLS/WebSocket) and by the SessionHost it is attached to.
// Plain TCP sockets are watched by the shard's Poller (edge-triggered epoll) and read and
// written with direct recv/send; deadlines live in the shard's DeadlineWheel.
// Errors: protocol violations end the connection with the MQTT 5 reason code (3.1.1: a
// plain close); they are counted and logged, never thrown.
#ifndef SLUICE_BROKER_SERVER_CONNECTION_H_
#define SLUICE_BROKER_SERVER_CONNECTION_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <utility>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "broker/auth/acl.h"
#include "broker/auth/scram.h"
#include "broker/net/stream.h"
#include "base/boxed.h"
#include "mqtt/codec/codec.h"
#include "broker/server/deadline_wheel.h"
#include "broker/protocol/ack_queue.h"
#include "broker/protocol/inbound_publish.h"
#include "broker/session/session.h"

namespace sluice::broker {

class Shard;
struct SessionHost;

// Replay from the commit log on SUBSCRIBE (connection_replay.cc, README "Replay").
inline constexpr char kReplayProperty[] = "sluice-replay";
inline constexpr char kOffsetProperty[] = "sluice-offset";
struct ReplaySpec {
  enum class Kind { kEarliest, kLatest, kTime, kOffsets };
  Kind kind = Kind::kLatest;
  int64_t time_ms = 0;
  std::map<uint32_t, int64_t> offsets;  // partition -> first offset
};
// nullopt for a malformed value.
std::optional<ReplaySpec> ParseReplaySpec(std::string_view value);
std::optional<std::string_view> FindReplayProperty(const mqtt::Properties& props);

// The DeadlineWheel entry is the shard's hold on the connection's one deadline (connect
// timeout, keep alive or drain): OnDeadline runs when it passes.
class Connection : public std::enable_shared_from_this<Connection>, public DeadlineWheel::Entry {
 public:
  // A plain TCP client: the socket leaves Asio's reactor for the shard's Poller.
  Connection(Shard* shard, boost::asio::ip::tcp::socket socket);
  // A plain TCP socket moved from another shard (non-blocking, TCP_NODELAY already set).
  Connection(Shard* shard, int fd);
  // A TLS or WebSocket connection (broker/net): the stream stays on the io_context that
  // accepted it and binds its handlers to this connection's shard (net::Stream).
  Connection(Shard* shard, std::unique_ptr<net::Stream> stream);
  ~Connection();

  // The accept-time admission ticket (connection limits), released with the connection.
  // A ticket that owns nothing (no limit set) is not kept.
  void SetAdmission(std::shared_ptr<void> ticket) {
    if (ticket.use_count() > 0) cold().admission = std::move(ticket);
  }

  // A freshly accepted socket: waits for CONNECT.
  void Start();
  // A socket moved from another shard after its CONNECT was read there.
  void StartMoved(mqtt::Connect connect, std::string leftover);

  // Encodes and queues the session's outbound packets.
  void SendOutbound(std::vector<Outbound>& out);
  // Writes what is queued (called by the shard's flush round; see StartWrite).
  void Flush();
  // Server-initiated end: MQTT 5 clients get DISCONNECT `reason`.
  void Disconnect(uint8_t reason, const char* why = nullptr);
  // Another connection took the session; `session_ends` when that one started clean.
  void TakenOver(bool session_ends);
  // Cluster (session_claims.h): a newer connection of this client id was admitted on another
  // node (or by a claim nobody waits for): DISCONNECT 0x8E; a will without delay goes out,
  // a delayed one is dropped (a new connection came within the delay); the session goes
  // offline here as after a close.
  void TakenOverElsewhere();
  // Cluster: the CONNECT waiting for its claim goes on, or is refused (0x88).
  void OnClaimAdmitted();
  void OnClaimFailed(const absl::Status& why);
  bool terminated() const { return terminated_; }
  // Called by the shard when the deadline set by ArmTimer has passed.
  void OnDeadline();
  // Plain TCP: the shard's Poller reported `events` (EPOLLIN, EPOLLOUT, ...) for the socket.
  void OnPollEvents(uint32_t events);

  // The session's id while attached (one copy of the id per client); before (CONNECT being
  // handled) and after (closed, taken over) the connection's own copy.
  const std::string& client_id() const;
  mqtt::Version version() const { return version_; }
  bool connected() const { return connected_; }
  // For the admin API: the client's address ("HOST:PORT") and when this connection object was
  // created (wall clock, Unix ms): at accept, or when the socket moved to the client id's
  // home shard right after its CONNECT.
  // Empty once the socket is closed. Computed, not stored: an idle connection's every byte
  // counts (README "Performance").
  std::string peer() const;
  int64_t created_unix_ms() const { return created_unix_ms_; }

 private:
  enum class WillAction { kPublish, kDiscard };

  // I/O.
  void DoRead();
  void ReadAvailable();
  void OnBytesRead(const boost::system::error_code& ec, size_t n);
  void ProcessInput();
  void Send(const mqtt::Packet& packet);
  void StartWrite();  // schedules a flush at the end of the shard's round
  void WriteNow();
  void WriteTcp();  // plain TCP: sends until done or EAGAIN (then EPOLLOUT continues)
  void OnWritten(const boost::system::error_code& ec);
  void CloseSocket();
  // The transport: the TCP socket fd_, or stream_ when set (TLS, WebSocket).
  bool TransportOpen() const { return stream_ ? stream_->IsOpen() : fd_ >= 0; }
  // Plain TCP: registers the socket in the shard's Poller; on failure closes it, lets the
  // registry go and returns false. Streams: true.
  bool WatchSocket();
  void CloseTransport();
  void Drain();
  void DrainStep(const boost::system::error_code& ec);
  void ArmTimer(int64_t delay_ms);
  // Ends the connection once: optional DISCONNECT, session bookkeeping, flush and close.
  void Terminate(std::optional<uint8_t> disconnect_reason, WillAction will,
                 const char* why = nullptr);
  void ProtocolError(uint8_t reason, const char* what);

  // Packet handlers (connection_handlers.cc).
  void HandlePacket(mqtt::Packet& packet);
  void HandleConnectFrame(mqtt::Connect& connect);
  void CompleteConnect(mqtt::Connect connect);
  void RefuseConnect(uint8_t reason, const char* why);
  void HandlePublish(mqtt::Publish& publish);
  void HandleAck(const mqtt::Ack& ack);
  void HandleSubscribe(mqtt::Subscribe& subscribe);
  void HandleUnsubscribe(const mqtt::Unsubscribe& unsubscribe);
  void HandleDisconnect(const mqtt::Disconnect& disconnect);
  void MoveToShard(uint32_t home, mqtt::Connect connect);

  // Security (connection_security.cc): authentication at CONNECT; ACL and limits per
  // PUBLISH/SUBSCRIBE. The *Refusal functions return 0 when allowed, else the MQTT 5 reason
  // code to answer with; the refusal is counted and logged there.
  // False: stop handling this CONNECT (refused, or a password check is under way on the auth
  // workers — then `connect` was moved away and comes back through OnPasswordChecked).
  bool Authenticate(mqtt::Connect& connect);
  void OnPasswordChecked(bool ok, mqtt::Connect connect);
  // After authentication: moves to the client id's home shard or completes the CONNECT.
  void ContinueConnect(mqtt::Connect connect);
  // MQTT 5 enhanced authentication (SCRAM-SHA-256): the CONNECT waits in pending_connect_
  // while AUTH packets go back and forth; other methods are refused with 0x8C.
  void StartEnhancedAuth(mqtt::Connect connect);
  void HandleAuthFrame(const mqtt::Auth& auth);
  // AUTH after CONNACK: re-authentication with the CONNECT's method (SCRAM-SHA-256).
  void HandleReauth(const mqtt::Auth& auth);
  uint8_t PublishRefusal(const mqtt::Publish& publish);
  uint8_t SubscribeRefusal(const std::string& filter, std::string_view plain_filter);
  const auth::ClientAcl* CurrentAcl();
  bool TopicWithinLimits(std::string_view topic) const;
  bool ShouldLogLimit();
  void SendRetained(const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs);
  bool EncodePublish(Outbound& o);
  // A stored publish finished (shard_durable.cc's PublishStored): its ack slot completes.
  void OnStored(uint64_t seq, uint16_t packet_id, uint8_t qos, uint32_t partition,
                absl::StatusOr<size_t> result);
  void HandlePubrel(uint16_t packet_id);
  void FinishSubscribe(const mqtt::Suback& suback,
                       std::vector<std::pair<std::string, topic::SubscriptionOptions>> retained,
                       const std::optional<ReplaySpec>& replay,
                       const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& replayed);
  // Delivers what the log holds for `subs` from where `spec` says (bounded by
  // max_queued_messages per SUBSCRIBE), after the SUBACK.
  void Replay(const ReplaySpec& spec,
              const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs);

  // Acknowledgements of incoming PUBLISH/PUBREL go out in the order those packets arrived
  // (MQTT 4.6), although a stored publish is acknowledged only once durable: each takes a
  // slot, sent once it and every slot before it are ready. While too many wait, input pauses.
  uint64_t QueueAck(mqtt::PacketType type, uint16_t packet_id, uint8_t reason, bool ready);
  void CompleteAck(uint64_t seq, uint8_t reason);
  bool InputPaused() const;

  Shard* shard_;
  int fd_ = -1;                          // plain TCP, registered in the shard's Poller
  std::unique_ptr<net::Stream> stream_;  // TLS / WebSocket; null for plain TCP
  const int64_t created_unix_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();

  std::string in_;
  size_t in_start_ = 0;
  std::string out_pending_;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool draining_ = false;
  bool read_pending_ = false;  // input wanted (TCP) / a stream read is under way
  bool readable_ = false;      // TCP: input may be waiting (edge-triggered: until EAGAIN)
  bool peer_closed_ = false;   // TCP: the peer shut down or the socket failed: read to the end
  bool read_posted_ = false;   // TCP: a ReadAvailable is posted
  uint32_t out_written_ = 0;   // TCP: bytes at the front of out_pending_ already sent

  mqtt::Version version_ = mqtt::Version::k311;
  bool connected_ = false;  // CONNACK success sent
  bool terminated_ = false;
  bool moved_ = false;      // socket handed to another shard
  std::unique_ptr<std::string> own_id_;  // see client_id()
  SessionHost* host_ = nullptr;
  uint16_t keep_alive_s_ = 0;
  int64_t last_rx_ms_ = 0;
  Boxed<mqtt::Will> will_;  // heap: an absent will costs a pointer, not ~1 KB
  uint32_t client_max_packet_size_ = mqtt::kMaxRemainingLength + 5;
  bool problem_information_ = true;

  // The CONNECT while enhanced authentication runs, or while its cluster claim is proposed.
  Boxed<mqtt::Connect> pending_connect_;  // heap: ~1.3 KB inline, and rarely present
  // A password check on the auth workers, or the cluster claim of the client id: input waits.
  bool auth_pending_ = false;
  bool claim_admitted_ = false;  // cluster: the claim of this CONNECT was applied here
  uint64_t claim_token_ = 0;     // cluster: the claim waited for (SessionClaims::Start)

  // What most connections never need, allocated on first use (an anonymous client without
  // topic aliases, enhanced authentication, ACL, rate limits or admission limits has none):
  // ~250 bytes saved per idle connection.
  struct Cold {
    std::shared_ptr<void> admission;  // accept-time ticket of net::Admission
    // Security state: the authenticated user name (or certificate identity), the ACL
    // compiled for this client (re-compiled when the ACL is reloaded), rate buckets.
    std::string username;
    std::unique_ptr<auth::ScramServer> scram;
    std::string auth_method;  // the enhanced authentication method of the CONNECT, if any
    std::shared_ptr<const auth::ClientAcl> acl;
    uint64_t acl_version = 0;
    double publish_tokens = -1, publish_byte_tokens = -1;  // < 0: not started
    int64_t publish_refill_ms = 0;
    int64_t last_limit_log_ms = -1000000;
    protocol::TopicAliases in_aliases;  // the client's aliases towards the broker
    absl::flat_hash_map<std::string, uint16_t> out_aliases;
    std::string stream_out;  // TLS/WebSocket: the bytes of the write under way
  };
  Cold& cold() {
    if (!cold_) cold_ = std::make_unique<Cold>();
    return *cold_;
  }
  const std::string& username() const;
  std::unique_ptr<Cold> cold_;
  uint16_t in_alias_max_ = 0;   // topic aliases the client may set (MQTT 5 CONNACK)
  uint16_t out_alias_max_ = 0;  // topic aliases the client accepts

  Boxed<protocol::AckQueue> acks_;  // while any ack waits; freed when all are sent
  uint64_t acks_base_ = 0;          // next sequence number while no queue exists
  bool input_paused_ = false;     // DoRead declined because too many acks wait
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_CONNECTION_H_
