// Stream: the byte stream a Connection reads MQTT from when it is not a plain TCP socket —
// TLS, WebSocket, WebSocket over TLS. Plain TCP does not use it: Connection keeps its
// tcp::socket and moves the fd between shards (the fast path). A TLS or WebSocket stream's
// state cannot be moved to another io_context, so it stays where it was accepted and its
// completion handlers are bound to the executor given by Rebind (the home shard of the
// client id): every operation is initiated from, and every handler (intermediate steps of
// the TLS/WebSocket state machines included) runs on, that executor's thread. Only the
// socket's readiness events are watched by the accepting io_context, which asio
// synchronizes internally.
//
// Thread-safety: one owner, on the thread of the executor last given to Rebind. At most one
// read and one write outstanding. Rebind only when nothing is outstanding.
// Errors: reported to handlers as boost::system::error_code; never thrown.
#ifndef SLUICE_BROKER_NET_STREAM_H_
#define SLUICE_BROKER_NET_STREAM_H_

#include <cstddef>
#include <functional>
#include <string>

#include <utility>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::net {

using IoHandler = std::function<void(const boost::system::error_code&, size_t)>;
using Executor = boost::asio::io_context::executor_type;

class Stream {
 public:
  virtual ~Stream() = default;

  // Completion handlers run on `executor` from now on.
  virtual void Rebind(Executor executor) = 0;
  // Some bytes (for WebSocket: of binary message payloads; frame boundaries are ignored, as
  // MQTT over WebSocket allows packets to span frames).
  virtual void AsyncReadSome(boost::asio::mutable_buffer buffer, IoHandler handler) = 0;
  // All of `buffer` (WebSocket: as one binary message).
  virtual void AsyncWrite(boost::asio::const_buffer buffer, IoHandler handler) = 0;
  // Half-closes the TCP connection (no TLS close_notify / WebSocket close frame: the caller
  // drains and closes, bounded in time).
  virtual void ShutdownSend(boost::system::error_code& ec) = 0;
  virtual void Close() = 0;
  virtual bool IsOpen() const = 0;

  // "tls", "ws" or "wss".
  virtual const char* kind() const = 0;
  // "IP:PORT" of the client.
  const std::string& peer() const { return peer_; }
  // The client certificate's identity (CN, else the first SAN) when one was verified; empty
  // otherwise.
  const std::string& identity() const { return identity_; }

 protected:
  std::string peer_;
  std::string identity_;
};

}  // namespace sluice::net

#endif  // SLUICE_BROKER_NET_STREAM_H_
