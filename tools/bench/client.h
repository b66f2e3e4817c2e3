// Client: one MQTT connection of the load generator, on Asio. It connects from a chosen
// source address (so thousands of connections can spread over 127.0.0.0/8 instead of one
// address's ephemeral ports), sends a pre-encoded CONNECT, frames input with the codec's
// PeekFrame and answers the protocol on its own (PUBACK, PUBREC/PUBREL/PUBCOMP, PINGREQ);
// what matters to the scenario is reported to its Listener.
//
// Fast paths: PUBLISH and acknowledgements are parsed by hand (fixed layout, no allocation);
// everything else goes through mqtt::Decode. Outgoing packets are appended to out() (whole
// packets only) and sent by Flush():
//  - batched (default): one async_write of everything appended so far; what is appended
//    while it is in progress goes in the next one. A publisher's window of PUBLISHes, or a
//    subscriber's PUBACKs for one read, leave in one send().
//  - one_packet_per_send: Flush() issues one non-blocking send() per MQTT packet, in order,
//    like libmosquitto's packet queue; a packet the kernel takes only partly is finished by
//    later send()s (waiting for writability), never joined with the next packet.
// TCP_NODELAY is set in both modes. Reads are the same in both: one recv of what is there
// (up to the buffer), optionally throttled to read_bytes_per_s (a slow reader).
//
// Thread-compatible: everything runs on the one io_context thread. Ownership: the scenario
// owns clients; the io_context must outlive them, and handlers capture `this`, so clients are
// destroyed only after the io_context has stopped running.
#ifndef SLUICE_TOOLS_BENCH_CLIENT_H_
#define SLUICE_TOOLS_BENCH_CLIENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mqtt/codec/packets.h"
#include "tools/bench/pacing.h"

namespace sluice::bench {

class Client;

class ClientListener {
 public:
  virtual ~ClientListener() = default;
  virtual void OnConnected(Client* c) = 0;                       // CONNACK success
  virtual void OnFailed(Client* c, const std::string& why) = 0;  // before or after CONNACK
  virtual void OnSubscribed(Client* c, bool ok) = 0;             // SUBACK
  virtual void OnMessage(Client* c, std::string_view payload) = 0;
  virtual void OnAcked(Client* c, uint16_t packet_id) = 0;       // PUBACK, or PUBCOMP for QoS 2
};

struct ClientOptions {
  mqtt::Version version = mqtt::Version::k311;
  uint16_t keep_alive_s = 60;
  uint16_t receive_maximum = 0;  // MQTT 5: 0 = not sent
  int64_t connect_timeout_ms = 10'000;
  size_t read_buffer_bytes = 16 * 1024;
  bool one_packet_per_send = false;  // see the header comment
  int64_t read_bytes_per_s = 0;      // > 0: read the socket no faster than this
  int64_t rcvbuf_bytes = 0;          // > 0: SO_RCVBUF before connect (no autotuning)
  bool clean_start = true;           // false: a persistent session (3.1.1 clean session 0)
  uint32_t session_expiry_s = 0;     // MQTT 5 with clean_start false: kept this long offline
};

class Client {
 public:
  Client(boost::asio::io_context& io, ClientListener* listener, uint32_t index,
         std::string client_id, const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the socket bound to `source` (port chosen by the kernel at connect time) and sends
  // CONNECT once the TCP connection is up.
  void Start(const boost::asio::ip::tcp::endpoint& broker, const boost::asio::ip::address& source);
  void Subscribe(const std::string& filter, uint8_t qos);
  // Sends DISCONNECT and closes; no more callbacks after this.
  void Close();

  std::string& out() { return out_pending_; }
  size_t out_bytes() const { return out_pending_.size() - out_sent_ + out_writing_.size(); }
  void Flush();
  // Changes the read throttle (0: read at full speed from now on).
  void SetReadThrottle(int64_t bytes_per_s);
  uint64_t send_calls() const { return send_calls_; }

  uint32_t index() const { return index_; }
  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  int64_t start_ns() const { return start_ns_; }
  int64_t connack_ns() const { return connack_ns_; }
  mqtt::Version version() const { return options_.version; }

 private:
  void FlushBatched();
  void FlushPerPacket();
  void DoRead();
  void ReadSome(size_t max_bytes);
  bool ProcessInput();  // false once the connection failed
  bool HandleFrame(uint8_t first_byte, std::string_view body, std::string_view frame);
  void SendAck(mqtt::PacketType type, uint16_t packet_id);
  void Fail(const std::string& why);
  void ArmKeepAlive();

  boost::asio::io_context& io_;
  ClientListener* listener_;
  uint32_t index_;
  std::string client_id_;
  ClientOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer read_timer_;  // read throttle
  TokenBucket read_budget_;
  std::string in_;
  size_t in_used_ = 0;
  std::string out_pending_;
  size_t out_sent_ = 0;       // one_packet_per_send: bytes of out_pending_ already sent
  size_t packet_end_ = 0;     // one_packet_per_send: end of the packet being sent
  std::string out_writing_;
  bool writing_ = false;      // an async write (or wait for writability) is in progress
  bool read_waiting_ = false; // the read throttle's timer is pending
  uint64_t send_calls_ = 0;
  bool connected_ = false;
  bool closed_ = false;
  int64_t start_ns_ = 0;
  int64_t connack_ns_ = 0;
  int64_t last_tx_ns_ = 0;
};

int64_t NowNs();

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_CLIENT_H_
