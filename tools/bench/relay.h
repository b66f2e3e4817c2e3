// Relay: the "bare relay" floor for MQTT loads — a single-threaded, level-triggered epoll
// loop that frames packets and does the least an MQTT server must do for loadgen's
// scenarios to run and check out:
//   CONNECT → CONNACK, SUBSCRIBE → SUBACK (granting what was asked), UNSUBSCRIBE → UNSUBACK,
//   PINGREQ → PINGRESP, QoS 1 PUBLISH → PUBACK, QoS 2 PUBLISH → PUBREC and PUBREL → PUBCOMP,
//   DISCONNECT → close;
//   every PUBLISH forwarded to every connection that has subscribed to anything, at the
//   lower of the message's QoS and the highest QoS that connection was granted, with that
//   connection's next packet id; its PUBACK/PUBCOMP are accepted and dropped, its PUBREC is
//   answered with PUBREL.
// No topic matching, sessions, retained messages, wills, limits, keep-alive enforcement,
// retransmission or storage; a QoS 2 PUBLISH re-sent by a client is forwarded again.
// What makes it a floor is what it does per message: one hand-parse, one encode per
// receiver version/QoS, a memcpy per receiver, and output corked: everything queued for a
// connection during one epoll round leaves in one send() after the round.
//
// Thread-compatible: Run() owns the loop on the calling thread. Ownership: the relay owns
// the listening socket and every connection. Errors: Listen() returns false with a message;
// a connection that sends a malformed frame, or whose socket fails, is closed.
#ifndef SLUICE_TOOLS_BENCH_RELAY_H_
#define SLUICE_TOOLS_BENCH_RELAY_H_

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench/relay_wire.h"

namespace sluice::bench {

class Relay {
 public:
  Relay();
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Binds an IPv4 HOST:PORT (port 0 = any free port) and listens.
  bool Listen(const std::string& host_port, std::string* error);
  // "HOST:PORT" actually bound.
  std::string BoundAddress() const;
  // Serves until *stop becomes non-zero (checked at least every 200 ms).
  void Run(const volatile std::sig_atomic_t* stop);

 private:
  struct Conn;

  void Accept();
  void Read(Conn* c);
  // Consumes every whole frame of `data`; returns bytes used, or npos once c is closed.
  size_t Consume(Conn* c, std::string_view data);
  bool Handle(Conn* c, const wire::Frame& frame, std::string_view body);
  void Forward(const wire::PublishView& p);
  void Queue(Conn* c);
  void Flush(Conn* c);
  void FlushDirty();
  void WatchWrites(Conn* c, bool on);
  void Close(Conn* c);

  int epoll_fd_ = -1;
  int listen_fd_ = -1;
  int64_t listen_paused_until_ns_ = 0;  // out of descriptors: stop accepting for a moment
  std::vector<std::unique_ptr<Conn>> conns_;  // index = Conn::slot
  std::vector<Conn*> subscribers_;
  std::vector<Conn*> dirty_;
  std::vector<std::unique_ptr<Conn>> closed_;  // freed after the round that closed them
  std::string scratch_;
  // Per forwarded message: its encoding for each receiver (version, QoS), built on first use.
  struct Variant {
    std::string bytes;
    size_t id_at = std::string::npos;
    bool built = false;
  };
  Variant variants_[2][3];
};

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_RELAY_H_
