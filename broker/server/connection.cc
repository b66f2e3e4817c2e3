#include "broker/server/connection.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/shard.h"

namespace sluice::broker {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// TLS and WebSocket streams read into the connection's buffer, one TLS record at a time.
constexpr size_t kStreamReadChunkBytes = 16 * 1024;
constexpr int64_t kDrainMs = 2000;
constexpr size_t kKeepBufferBytes = 16 * 1024;
}  // namespace

Connection::Connection(Shard* shard, tcp::socket socket) : shard_(shard) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // reads and writes go until EAGAIN
  fd_ = socket.release(ec);
  if (ec) fd_ = -1;  // Start closes the connection
  last_rx_ms_ = shard_->NowMs();
}

Connection::Connection(Shard* shard, int fd) : shard_(shard), fd_(fd) {
  last_rx_ms_ = shard_->NowMs();
}

Connection::Connection(Shard* shard, std::unique_ptr<net::Stream> stream)
    : shard_(shard), stream_(std::move(stream)) {
  last_rx_ms_ = shard_->NowMs();
}

Connection::~Connection() {
  if (!shard_->tearing_down()) {
    shard_->CancelDeadline(this);
    if (fd_ >= 0) shard_->poller().Remove(fd_);
  }
  if (fd_ >= 0) ::close(fd_);
}

std::string Connection::peer() const {
  if (stream_) return stream_->peer();
  if (fd_ < 0) return std::string();
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return std::string();
  tcp::endpoint ep;
  ep.resize(len);
  std::memcpy(ep.data(), &addr, len);
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

namespace {
const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}
}  // namespace

const std::string& Connection::client_id() const {
  if (host_) return host_->session.client_id();
  return own_id_ ? *own_id_ : EmptyString();
}

const std::string& Connection::username() const {
  return cold_ ? cold_->username : EmptyString();
}

bool Connection::WatchSocket() {
  if (stream_) return true;
  absl::Status added =
      fd_ < 0 ? absl::InternalError("no socket") : shard_->poller().Add(fd_, this);
  if (added.ok()) return true;
  SLOG(kWarn) << "cannot watch a client socket: " << added.message();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  shard_->ReleaseConnection(this);
  return false;
}

void Connection::CloseTransport() {
  if (stream_) {
    stream_->Close();
  } else if (fd_ >= 0) {
    shard_->poller().Remove(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  shard_->ReleaseConnection(this);
}

void Connection::Start() {
  shard_->AddConnection(shared_from_this());
  if (!WatchSocket()) return;
  BrokerStats::Inc(shard_->stats().connections_current);
  ArmTimer(shard_->broker().config().connect_timeout_s * 1000);
  DoRead();
}

void Connection::StartMoved(mqtt::Connect connect, std::string leftover) {
  shard_->AddConnection(shared_from_this());
  if (!WatchSocket()) return;
  BrokerStats::Inc(shard_->stats().connections_current);
  in_ = std::move(leftover);
  CompleteConnect(std::move(connect));
  if (terminated_) return;
  ProcessInput();
  if (!terminated_ && !moved_) DoRead();
}

void Connection::DoRead() {
  if (terminated_ || moved_ || auth_pending_) return;
  if (InputPaused()) {
    input_paused_ = true;
    return;
  }
  read_pending_ = true;
  if (!stream_) {
    // Plain TCP: read synchronously into the shard's scratch buffer when the Poller says
    // input arrived (no buffer is reserved per connection while it waits), or now if input
    // already waits: its edge has passed. Posted, as DoRead ends other handlers.
    if (readable_ && !read_posted_) {
      read_posted_ = true;
      asio::post(shard_->io(), [self = shared_from_this()] {
        self->read_posted_ = false;
        if (self->read_pending_ && self->readable_ && self->fd_ >= 0) self->ReadAvailable();
      });
    }
    return;
  }
  size_t old = in_.size();
  in_.resize(old + kStreamReadChunkBytes);
  stream_->AsyncReadSome(
      asio::buffer(in_.data() + old, kStreamReadChunkBytes),
      [self = shared_from_this(), old](const boost::system::error_code& ec, size_t n) {
        self->read_pending_ = false;
        if (self->draining_) return self->DrainStep(ec);
        self->in_.resize(old + n);
        self->OnBytesRead(ec, n);
      });
}

void Connection::OnPollEvents(uint32_t events) {
  if (fd_ < 0) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peer_closed_ = true;
  if (writing_ && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) WriteTcp();
  if (fd_ < 0 || !readable_) return;
  if (draining_) {
    Drain();
  } else if (read_pending_ && !read_posted_) {
    ReadAvailable();
  }
}

void Connection::ReadAvailable() {
  read_pending_ = false;
  std::vector<char>& scratch = shard_->read_scratch();
  // A few reads per wake-up at most, so one busy client cannot starve the shard's others
  // (DoRead posts the rest: no new edge will come for input already waiting).
  for (int round = 0; round < 4; ++round) {
    ssize_t n = ::recv(fd_, scratch.data(), scratch.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      readable_ = false;
      break;
    }
    boost::system::error_code ec;
    if (n < 0) {
      ec.assign(errno, boost::system::system_category());
    } else if (n == 0) {
      ec = asio::error::eof;
    } else {
      in_.append(scratch.data(), static_cast<size_t>(n));
    }
    OnBytesRead(ec, n > 0 ? static_cast<size_t>(n) : 0);
    if (ec || terminated_ || moved_) return;
    // A short read took everything queued; new input raises a new edge (but after the peer
    // closed, read on to the end of the stream).
    if (static_cast<size_t>(n) < scratch.size() && !peer_closed_) {
      readable_ = false;
      break;
    }
    if (InputPaused()) break;
  }
  if (!terminated_ && !moved_) DoRead();
}

void Connection::OnBytesRead(const boost::system::error_code& ec, size_t n) {
  BrokerStats::Inc(shard_->stats().bytes_received, n);
  if (ec || terminated_) {
    if (!terminated_) Terminate(std::nullopt, WillAction::kPublish);
    return;
  }
  last_rx_ms_ = shard_->NowMs();
  ProcessInput();
  // Stream reads re-arm here; TCP re-arms in ReadAvailable after its read loop.
  if (stream_ && !moved_) DoRead();
}

void Connection::ProcessInput() {
  const uint32_t max_size = static_cast<uint32_t>(shard_->broker().config().max_packet_size);
  while (!terminated_ && !moved_ && !auth_pending_ && !InputPaused()) {
    std::string_view view(in_.data() + in_start_, in_.size() - in_start_);
    mqtt::FrameHeader header;
    mqtt::CodecError error;
    mqtt::FrameStatus status = mqtt::PeekFrame(view, max_size, &header, &error);
    if (!connected_ && !pending_connect_ && !view.empty() &&
        (static_cast<uint8_t>(view[0]) >> 4) != static_cast<uint8_t>(mqtt::PacketType::kConnect)) {
      // Whatever this is (HTTP, TLS, garbage), it is not MQTT: do not wait for its "frame".
      ProtocolError(mqtt::reason::kProtocolError, "first packet is not CONNECT");
      return;
    }
    if (status == mqtt::FrameStatus::kNeedMore) break;
    if (status == mqtt::FrameStatus::kError) {
      ProtocolError(error.reason_code, error.message.c_str());
      return;
    }
    std::string_view frame = view.substr(0, header.frame_size());
    in_start_ += header.frame_size();
    shard_->stats().CountReceived(header.type());
    mqtt::Packet packet;
    const mqtt::DecodeLimits limits{static_cast<uint32_t>(
        shard_->broker().config().security.max_user_properties)};
    if (!mqtt::Decode(frame, version_, &packet, &error, limits)) {
      if (error.reason_code == mqtt::reason::kQuotaExceeded)
        BrokerStats::Inc(shard_->stats().user_properties_refused_limit);
      if (!connected_ && header.type() == mqtt::PacketType::kConnect) {
        // Answer a broken CONNECT with CONNACK where the client can read one.
        uint8_t level = 0;
        if (frame.size() > header.header_size + 2) {
          size_t name_len = (static_cast<uint8_t>(frame[header.header_size]) << 8) |
                            static_cast<uint8_t>(frame[header.header_size + 1]);
          size_t at = header.header_size + 2 + name_len;
          if (at < frame.size()) level = static_cast<uint8_t>(frame[at]);
        }
        if (error.reason_code == mqtt::reason::kUnsupportedProtocolVersion) {
          version_ = mqtt::Version::k311;  // return code 1 is understood by every version
          RefuseConnect(error.reason_code, error.message.c_str());
        } else if (level == 5) {
          version_ = mqtt::Version::k5;
          RefuseConnect(error.reason_code, error.message.c_str());
        } else {
          ProtocolError(error.reason_code, error.message.c_str());
        }
        return;
      }
      ProtocolError(error.reason_code, error.message.c_str());
      return;
    }
    HandlePacket(packet);
  }
  // Compact: keep only the unconsumed tail at the front of the buffer.
  if (in_start_ > 0 && !moved_) {
    in_.erase(0, in_start_);
    in_start_ = 0;
  }
  // An emptied buffer that grew for a large packet gives its memory back.
  if (in_.empty() && in_.capacity() > kKeepBufferBytes) std::string().swap(in_);
}

void Connection::Send(const mqtt::Packet& packet) {
  mqtt::Encode(packet, version_, &out_pending_);
  shard_->stats().CountSent(packet);
  StartWrite();
}

void Connection::StartWrite() {
  if (writing_ || out_pending_.empty() || moved_ || flush_scheduled_) return;
  // Deferred to the end of the shard's current round of handlers, so that everything queued
  // for this connection meanwhile (a burst of deliveries) leaves in one send.
  flush_scheduled_ = true;
  shard_->ScheduleFlush(shared_from_this());
}

void Connection::Flush() {
  flush_scheduled_ = false;
  WriteNow();
}

void Connection::WriteNow() {
  if (writing_ || out_pending_.empty() || moved_) return;
  writing_ = true;
  if (!stream_) {
    // Plain TCP sends straight from out_pending_ (what is queued meanwhile is appended and
    // goes in the same loop); a stream's asynchronous write needs a buffer that stays put.
    WriteTcp();
    return;
  }
  BrokerStats::Inc(shard_->stats().bytes_sent, out_pending_.size());
  std::string& out_writing = cold().stream_out;
  out_writing.swap(out_pending_);
  stream_->AsyncWrite(asio::buffer(out_writing),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->OnWritten(ec);
                      });
}

void Connection::WriteTcp() {
  while (out_written_ < out_pending_.size()) {
    ssize_t n = ::send(fd_, out_pending_.data() + out_written_,
                       out_pending_.size() - out_written_, MSG_NOSIGNAL);
    if (n > 0) {
      BrokerStats::Inc(shard_->stats().bytes_sent, static_cast<uint64_t>(n));
      out_written_ += static_cast<uint32_t>(n);
      if (out_written_ == out_pending_.size()) {
        out_pending_.clear();
        out_written_ = 0;
        // A buffer that grew for a burst gives its memory back.
        if (out_pending_.capacity() > kKeepBufferBytes) std::string().swap(out_pending_);
        break;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT continues
    return OnWritten(boost::system::error_code(n < 0 ? errno : EPIPE,
                                               boost::system::system_category()));
  }
  OnWritten({});
}

void Connection::OnWritten(const boost::system::error_code& ec) {
  writing_ = false;
  if (stream_) cold().stream_out.clear();
  if (ec) {
    out_pending_.clear();
    out_written_ = 0;
    if (!terminated_) Terminate(std::nullopt, WillAction::kPublish);
    CloseSocket();
    return;
  }
  if (terminated_ && out_pending_.empty()) {
    CloseSocket();
    return;
  }
  WriteNow();  // what queued up during this write goes at once
}

void Connection::CloseSocket() {
  if (!TransportOpen() || draining_) return;
  // Half-close and read until the client closes (bounded by kDrainMs): closing with unread
  // input would make the kernel send RST, which can destroy our last packet (a DISCONNECT
  // with its reason code) before the client reads it.
  draining_ = true;
  boost::system::error_code ec;
  if (stream_) {
    stream_->ShutdownSend(ec);
  } else if (::shutdown(fd_, SHUT_WR) != 0) {
    ec.assign(errno, boost::system::system_category());
  }
  if (ec) {
    CloseTransport();
    return;
  }
  ArmTimer(kDrainMs);  // OnDeadline closes a client that does not close in time
  Drain();
}

void Connection::Drain() {
  if (!stream_) {
    // Until EOF, an error or EAGAIN (then the next input event continues), a bounded number
    // of reads per event.
    std::vector<char>& scratch = shard_->read_scratch();
    for (int round = 0; round < 16; ++round) {
      ssize_t n = ::recv(fd_, scratch.data(), scratch.size(), 0);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        readable_ = false;
        return;
      }
      return DrainStep(asio::error::eof);
    }
    asio::post(shard_->io(), [self = shared_from_this()] {
      if (self->draining_ && self->fd_ >= 0) self->Drain();
    });
    return;
  }
  if (read_pending_) return;  // DoRead's handler continues the drain
  read_pending_ = true;
  in_.resize(4096);  // input is of no use any more: the drain reads into it
  in_start_ = 0;
  stream_->AsyncReadSome(asio::buffer(in_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                            self->read_pending_ = false;
                            self->DrainStep(ec);
                          });
}

void Connection::DrainStep(const boost::system::error_code& ec) {
  if (!ec) return Drain();
  shard_->CancelDeadline(this);
  CloseTransport();
}

void Connection::ArmTimer(int64_t delay_ms) {
  shard_->ScheduleDeadline(this, shard_->NowMs() + delay_ms);
}

void Connection::OnDeadline() {
  if (moved_) return;
  if (terminated_) {
    // Draining, or the last write never completed (a client that stopped reading).
    CloseTransport();
    return;
  }
  if (!connected_) {
    SLOG(kInfo).Kv("peer", peer()) << "no CONNECT in time, closing";
    Terminate(std::nullopt, WillAction::kDiscard);
    return;
  }
  if (keep_alive_s_ == 0) return;
  int64_t limit_ms = static_cast<int64_t>(keep_alive_s_) * 1500;
  int64_t idle_ms = shard_->NowMs() - last_rx_ms_;
  if (idle_ms >= limit_ms) {
    BrokerStats::Inc(shard_->stats().keepalive_timeouts);
    SLOG(kInfo).Kv("client_id", client_id()).Kv("keep_alive_s", keep_alive_s_) << "keep alive expired";
    Terminate(mqtt::reason::kKeepAliveTimeout, WillAction::kPublish, "keep alive timeout");
    return;
  }
  ArmTimer(limit_ms - idle_ms);
}

void Connection::ProtocolError(uint8_t reason, const char* what) {
  BrokerStats::Inc(shard_->stats().protocol_errors);
  SLOG(kInfo).Kv("client_id", client_id()).Kv("peer", peer()).Kv("reason", static_cast<int>(reason)) << "closing connection: " << what;
  Terminate(reason, WillAction::kPublish, what);
}

void Connection::Disconnect(uint8_t reason, const char* why) {
  Terminate(reason, WillAction::kDiscard, why);
}

void Connection::TakenOver(bool session_ends) {
  BrokerStats::Inc(shard_->stats().sessions_taken_over);
  // The session now belongs to the new connection: only the will is ours to settle. It goes
  // out at once unless it has a delay and the session lives on (the new connection resumed
  // it within the delay, so MQTT 5 section 3.1.3.2.2 says it must not be sent).
  own_id_ = std::make_unique<std::string>(host_->session.client_id());
  host_ = nullptr;
  Boxed<mqtt::Will> will = std::move(will_);
  will_.reset();
  if (will) {
    uint32_t delay = will->properties.will_delay_interval.value_or(0);
    if (delay == 0 || session_ends) shard_->PublishWill(*will, client_id());
  }
  Terminate(mqtt::reason::kSessionTakenOver, WillAction::kDiscard,
            "another connection took over this client id");
}

void Connection::TakenOverElsewhere() {
  BrokerStats::Inc(shard_->stats().sessions_taken_over);
  Boxed<mqtt::Will> will = std::move(will_);
  will_.reset();
  if (will && will->properties.will_delay_interval.value_or(0) == 0) {
    shard_->PublishWill(*will, client_id());
  }
  Terminate(mqtt::reason::kSessionTakenOver, WillAction::kDiscard,
            "a newer connection of this client id on another node took over");
}

void Connection::Terminate(std::optional<uint8_t> disconnect_reason, WillAction will,
                           const char* why) {
  if (terminated_) return;
  terminated_ = true;
  if (claim_token_ != 0 && !claim_admitted_) shard_->claims()->Abandon(claim_token_);
  ArmTimer(kDrainMs);  // bounds the last write and the drain
  if (disconnect_reason && connected_ && version_ == mqtt::Version::k5) {
    mqtt::Disconnect d;
    d.reason_code = *disconnect_reason;
    // A reason string is allowed on DISCONNECT even without Request Problem Information.
    if (why) d.properties.reason_string = why;
    Send(d);
  }
  if (will == WillAction::kDiscard) will_.reset();
  if (host_) {
    SessionHost* host = host_;
    own_id_ = std::make_unique<std::string>(host->session.client_id());
    host_ = nullptr;
    shard_->OnConnectionClosed(host, this, std::move(will_));
  }
  will_.reset();
  BrokerStats::Dec(shard_->stats().connections_current);
  WriteNow();  // the last packets (e.g. DISCONNECT) go before the close
  if (!writing_) CloseSocket();
}

void Connection::MoveToShard(uint32_t home, mqtt::Connect connect) {
  moved_ = true;
  shard_->CancelDeadline(this);
  shard_->ReleaseConnection(this);
  BrokerStats::Dec(shard_->stats().connections_current);
  if (stream_) {
    // TLS/WebSocket state cannot change io_context: the stream stays, its handlers move.
    Shard* target = &shard_->broker().shard(home);
    std::unique_ptr<net::Stream> stream = std::move(stream_);
    stream->Rebind(target->io().get_executor());
    asio::post(target->io(), [target, stream = std::move(stream), admission = cold_ ? cold_->admission : nullptr,
                              connect = std::move(connect),
                              leftover = in_.substr(in_start_)]() mutable {
      auto c = std::make_shared<Connection>(target, std::move(stream));
      c->SetAdmission(std::move(admission));
      c->StartMoved(std::move(connect), std::move(leftover));
    });
    if (cold_) cold_->admission.reset();
    return;
  }
  // Plain TCP: the descriptor leaves this shard's Poller for the target's.
  shard_->poller().Remove(fd_);
  int fd = fd_;
  fd_ = -1;
  std::string leftover = in_.substr(in_start_);
  Shard* target = &shard_->broker().shard(home);
  asio::post(target->io(), [target, fd, connect = std::move(connect),
                            leftover = std::move(leftover),
                            admission = cold_ ? std::move(cold_->admission) : nullptr]() mutable {
    auto c = std::make_shared<Connection>(target, fd);
    c->SetAdmission(std::move(admission));
    c->StartMoved(std::move(connect), std::move(leftover));
  });
}

}  // namespace sluice::broker
