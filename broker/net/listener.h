// Listener: a TLS, WebSocket or WebSocket-over-TLS MQTT listener. Accepts sockets round-robin
// onto the shards' io_contexts, asks Admission (limits, before any allocation), then runs the
// TLS handshake and/or the WebSocket upgrade on the accepting shard, bounded by
// handshake_timeout_ms, and hands the ready Stream to `on_stream` on that shard's thread.
// WebSocket: the HTTP request must target `ws_path` and offer the subprotocol "mqtt" (MQTT
// 5 section 6); the answer selects "mqtt"; messages are binary.
//
// Thread-safety: Bind/Start/Stop/BoundAddress from the controlling thread; the accept loop
// runs on ios[0]. Errors: Bind returns a status; handshake failures are counted
// (handshake_failures()) and logged at debug level (they are what scanners do all day).
#ifndef SLUICE_BROKER_NET_LISTENER_H_
#define SLUICE_BROKER_NET_LISTENER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "broker/net/admission.h"
#include "broker/net/stream.h"
#include "broker/net/tls_context.h"

namespace sluice::net {

// Opens `acceptor` on `address` ("HOST:PORT", "[::1]:PORT"; port 0 picks a free one) with
// SO_REUSEADDR and starts listening. Errors name `setting` (e.g. "listen", "tls_listen"):
// InvalidArgument for a malformed address, Unavailable when the port cannot be bound.
absl::Status OpenAcceptor(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
                          const std::string& setting);
// "HOST:PORT" the acceptor is bound to ("[addr]:port" for IPv6); "" when not open.
std::string BoundAddressOf(const boost::asio::ip::tcp::acceptor* acceptor);

struct ListenerOptions {
  std::string name;     // "tls", "ws" or "wss" (logs, ready-fd line)
  std::string address;  // HOST:PORT
  bool tls = false;
  bool websocket = false;
  std::string ws_path = "/mqtt";
  std::shared_ptr<TlsContexts> tls_contexts;  // required when tls
  int64_t handshake_timeout_ms = 10000;
  size_t max_http_request_bytes = 8192;
  size_t max_ws_message_bytes = (1 << 20) + 65536;  // one WebSocket message, all frames
};

using StreamHandler = std::function<void(uint32_t shard, std::unique_ptr<Stream> stream,
                                         std::shared_ptr<void> admission_ticket)>;

class Listener {
 public:
  Listener(ListenerOptions options, std::vector<boost::asio::io_context*> ios,
           Admission* admission, StreamHandler on_stream);
  ~Listener();

  absl::Status Bind();
  void Start();  // posts the accept loop to ios[0]
  void Stop();   // posts the acceptor's close; pending handshakes finish or time out
  std::string BoundAddress() const;
  const ListenerOptions& options() const { return options_; }
  uint64_t handshake_failures() const { return handshake_failures_.load(); }

 private:
  void Accept();
  void Handshake(uint32_t shard, boost::asio::ip::tcp::socket socket,
                 std::shared_ptr<void> ticket);

  ListenerOptions options_;
  std::vector<boost::asio::io_context*> ios_;
  Admission* admission_;
  StreamHandler on_stream_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::steady_timer> backoff_;  // after an accept error
  uint64_t accept_errors_ = 0;
  std::chrono::steady_clock::time_point last_accept_log_{};
  uint32_t next_shard_ = 0;
  std::atomic<uint64_t> handshake_failures_{0};
};

}  // namespace sluice::net

#endif  // SLUICE_BROKER_NET_LISTENER_H_
