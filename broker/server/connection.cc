#include "broker/server/connection.h"

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

Connection::Connection(Shard* shard, tcp::socket socket)
    : shard_(shard), socket_(std::move(socket)) {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // ReadAvailable reads until would_block
  last_rx_ms_ = shard_->NowMs();
}

Connection::Connection(Shard* shard, std::unique_ptr<net::Stream> stream)
    : shard_(shard), socket_(shard->io()), stream_(std::move(stream)) {
  last_rx_ms_ = shard_->NowMs();
}

Connection::~Connection() { shard_->CancelDeadline(this); }

std::string Connection::peer() const {
  if (stream_) return stream_->peer();
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (ec) return std::string();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

const std::string& Connection::username() const {
  static const std::string* const kNone = new std::string();
  return cold_ ? cold_->username : *kNone;
}

void Connection::CloseTransport() {
  boost::system::error_code ignored;
  if (stream_) {
    stream_->Close();
  } else {
    socket_.close(ignored);
  }
}

void Connection::Start() {
  shard_->AddConnection(this);
  BrokerStats::Inc(shard_->stats().connections_current);
  ArmTimer(shard_->broker().config().connect_timeout_s * 1000);
  DoRead();
}

void Connection::StartMoved(mqtt::Connect connect, std::string leftover) {
  shard_->AddConnection(this);
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
    // Plain TCP: wait for readability, then read synchronously into the shard's scratch
    // buffer. No buffer is reserved per connection while it waits (an idle connection holds
    // none) and nothing is zero-filled per read.
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) {
                         self->read_pending_ = false;
                         if (self->draining_) return self->DrainStep(ec);
                         if (ec || self->terminated_) {
                           if (!self->terminated_) self->Terminate(std::nullopt, WillAction::kPublish);
                           return;
                         }
                         self->ReadAvailable();
                       });
    return;
  }
  size_t old = in_.size();
  in_.resize(old + kStreamReadChunkBytes);
  ReadSome(
      asio::buffer(in_.data() + old, kStreamReadChunkBytes),
      [self = shared_from_this(), old](const boost::system::error_code& ec, size_t n) {
        self->read_pending_ = false;
        if (self->draining_) return self->DrainStep(ec);
        self->in_.resize(old + n);
        self->OnBytesRead(ec, n);
      });
}

void Connection::ReadAvailable() {
  std::vector<char>& scratch = shard_->read_scratch();
  // A few reads per wake-up at most, so one busy client cannot starve the shard's others.
  for (int round = 0; round < 4; ++round) {
    boost::system::error_code ec;
    size_t n = socket_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (!ec) in_.append(scratch.data(), n);
    OnBytesRead(ec, n);
    if (ec || terminated_ || moved_) return;
    if (n < scratch.size() || InputPaused()) break;
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
    if (!mqtt::Decode(frame, version_, &packet, &error)) {
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
  out_writing_.swap(out_pending_);
  BrokerStats::Inc(shard_->stats().bytes_sent, out_writing_.size());
  auto on_written = [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->writing_ = false;
                      self->out_writing_.clear();
                      if (ec) {
                        self->out_pending_.clear();
                        if (!self->terminated_) self->Terminate(std::nullopt, WillAction::kPublish);
                        self->CloseSocket();
                        return;
                      }
                      if (self->terminated_ && self->out_pending_.empty()) {
                        self->CloseSocket();
                        return;
                      }
                      self->WriteNow();  // what queued up during this write goes at once
                    };
  if (stream_) {
    stream_->AsyncWrite(asio::buffer(out_writing_), std::move(on_written));
  } else {
    asio::async_write(socket_, asio::buffer(out_writing_), std::move(on_written));
  }
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
  } else {
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }
  if (ec) {
    CloseTransport();
    return;
  }
  ArmTimer(kDrainMs);  // OnDeadline closes a client that does not close in time
  Drain();
}

void Connection::Drain() {
  if (read_pending_) return;  // DoRead's handler continues the drain
  read_pending_ = true;
  in_.resize(4096);  // input is of no use any more: the drain reads into it
  in_start_ = 0;
  ReadSome(asio::buffer(in_),
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
    SLOG(kInfo).Kv("client_id", client_id_).Kv("keep_alive_s", keep_alive_s_) << "keep alive expired";
    Terminate(mqtt::reason::kKeepAliveTimeout, WillAction::kPublish, "keep alive timeout");
    return;
  }
  ArmTimer(limit_ms - idle_ms);
}

void Connection::ProtocolError(uint8_t reason, const char* what) {
  BrokerStats::Inc(shard_->stats().protocol_errors);
  SLOG(kInfo).Kv("client_id", client_id_).Kv("peer", peer()).Kv("reason", static_cast<int>(reason)) << "closing connection: " << what;
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
  host_ = nullptr;
  Boxed<mqtt::Will> will = std::move(will_);
  will_.reset();
  if (will) {
    uint32_t delay = will->properties.will_delay_interval.value_or(0);
    if (delay == 0 || session_ends) shard_->PublishWill(*will, client_id_);
  }
  Terminate(mqtt::reason::kSessionTakenOver, WillAction::kDiscard,
            "another connection took over this client id");
}

void Connection::Terminate(std::optional<uint8_t> disconnect_reason, WillAction will,
                           const char* why) {
  if (terminated_) return;
  terminated_ = true;
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
    host_ = nullptr;
    shard_->OnConnectionClosed(host, this, std::move(will_));
  }
  will_.reset();
  shard_->RemoveConnection(this);
  BrokerStats::Dec(shard_->stats().connections_current);
  WriteNow();  // the last packets (e.g. DISCONNECT) go before the close
  if (!writing_) CloseSocket();
}

void Connection::MoveToShard(uint32_t home, mqtt::Connect connect) {
  moved_ = true;
  shard_->CancelDeadline(this);
  shard_->RemoveConnection(this);
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
  boost::system::error_code ec;
  auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) {
    CloseSocket();
    return;
  }
  int fd = socket_.release(ec);
  if (ec) {
    CloseSocket();
    return;
  }
  std::string leftover = in_.substr(in_start_);
  Shard* target = &shard_->broker().shard(home);
  asio::post(target->io(), [target, fd, protocol, connect = std::move(connect),
                            leftover = std::move(leftover),
                            admission = cold_ ? std::move(cold_->admission) : nullptr]() mutable {
    tcp::socket socket(target->io());
    boost::system::error_code ec;
    socket.assign(protocol, fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    auto c = std::make_shared<Connection>(target, std::move(socket));
    c->SetAdmission(std::move(admission));
    c->StartMoved(std::move(connect), std::move(leftover));
  });
}

}  // namespace sluice::broker
