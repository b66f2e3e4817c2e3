#include "tools/bench/client.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "mqtt/codec/codec.h"

namespace sluice::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr uint32_t kMaxPacketBytes = 1 << 20;

uint16_t Be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

// Acknowledgement encodings from the codec, with the packet id patched in per use.
const std::string& AckTemplate(mqtt::Version version, mqtt::PacketType type) {
  static std::array<std::string, 32> cache;
  std::string& t = cache[(version == mqtt::Version::k5 ? 16 : 0) + static_cast<int>(type)];
  if (t.empty()) mqtt::Encode(mqtt::Ack{type, 0, mqtt::reason::kSuccess, {}}, version, &t);
  return t;
}

// A throttled reader takes 10 ms worth of bytes per read (at least 256): fine-grained
// enough to look like a slow consumer, coarse enough not to spin the timer.
int64_t ReadBurstBytes(int64_t bytes_per_s) { return std::max<int64_t>(256, bytes_per_s / 100); }

// Size of the whole MQTT packet starting at buf[at] (fixed header + remaining length).
// out() only ever holds whole packets; should it not parse, the rest is one chunk.
size_t PacketSizeAt(const std::string& buf, size_t at) {
  uint32_t length = 0;
  size_t i = at + 1;
  for (int shift = 0; shift < 28 && i < buf.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(buf[i++]);
    length |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return std::min(buf.size() - at, (i - at) + length);
  }
  return buf.size() - at;
}

}  // namespace

Client::Client(asio::io_context& io, ClientListener* listener, uint32_t index,
               std::string client_id, const ClientOptions& options)
    : io_(io),
      listener_(listener),
      index_(index),
      client_id_(std::move(client_id)),
      options_(options),
      socket_(io),
      timer_(io),
      read_timer_(io),
      read_budget_(options.read_bytes_per_s, ReadBurstBytes(options.read_bytes_per_s), NowNs()) {}

Client::~Client() {
  boost::system::error_code ec;
  socket_.close(ec);
}

void Client::Start(const tcp::endpoint& broker, const asio::ip::address& source) {
  start_ns_ = NowNs();
  boost::system::error_code ec;
  socket_.open(broker.protocol(), ec);
  if (ec) return Fail("socket: " + ec.message());
  // Let connect() pick the port per 4-tuple, not per source address: many connections per
  // source address, beyond the ephemeral range of one address.
  int one = 1;
  ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  socket_.bind(tcp::endpoint(source, 0), ec);
  if (ec) return Fail("bind: " + ec.message());
  socket_.set_option(tcp::no_delay(true), ec);
  if (options_.rcvbuf_bytes > 0) {
    // Before connect, so the window scale matches; fixes the size (no autotuning).
    int bytes = static_cast<int>(options_.rcvbuf_bytes);
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  timer_.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !connected_ && !closed_) Fail("no CONNACK in time");
  });
  socket_.async_connect(broker, [this](const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) return Fail("connect: " + ec.message());
    mqtt::Connect connect;
    connect.version = options_.version;
    connect.clean_start = options_.clean_start;
    connect.keep_alive_s = options_.keep_alive_s;
    connect.client_id = client_id_;
    if (options_.version == mqtt::Version::k5 && options_.receive_maximum > 0)
      connect.properties.receive_maximum = options_.receive_maximum;
    if (options_.version == mqtt::Version::k5 && options_.session_expiry_s > 0)
      connect.properties.session_expiry_interval = options_.session_expiry_s;
    mqtt::Encode(connect, options_.version, &out_pending_);
    Flush();
    in_.resize(options_.read_buffer_bytes);
    DoRead();
  });
}

void Client::Subscribe(const std::string& filter, uint8_t qos) {
  mqtt::Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back(mqtt::SubscriptionRequest{filter, qos});
  mqtt::Encode(s, options_.version, &out_pending_);
  Flush();
}

void Client::Close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  read_timer_.cancel();
  boost::system::error_code ec;
  if (connected_ && !writing_) {
    std::string bye;
    mqtt::Encode(mqtt::Disconnect{}, options_.version, &bye);
    ::send(socket_.native_handle(), bye.data(), bye.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  socket_.close(ec);
}

void Client::Flush() {
  if (options_.one_packet_per_send) {
    FlushPerPacket();
  } else {
    FlushBatched();
  }
}

void Client::FlushBatched() {
  if (writing_ || out_pending_.empty() || closed_ || !socket_.is_open()) return;
  writing_ = true;
  out_writing_.swap(out_pending_);
  last_tx_ns_ = NowNs();
  ++send_calls_;  // at least one; more if the kernel takes it in parts
  asio::async_write(socket_, asio::buffer(out_writing_),
                    [this](const boost::system::error_code& ec, size_t) {
                      writing_ = false;
                      out_writing_.clear();
                      if (closed_) return;
                      if (ec) return Fail("write: " + ec.message());
                      Flush();
                    });
}

void Client::FlushPerPacket() {
  if (writing_ || closed_ || !socket_.is_open()) return;
  const int fd = socket_.native_handle();
  while (out_sent_ < out_pending_.size()) {
    if (out_sent_ == packet_end_) packet_end_ = out_sent_ + PacketSizeAt(out_pending_, out_sent_);
    const ssize_t n = ::send(fd, out_pending_.data() + out_sent_, packet_end_ - out_sent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    ++send_calls_;
    if (n > 0) {
      out_sent_ += static_cast<size_t>(n);
      last_tx_ns_ = NowNs();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return Fail(std::string("send: ") + std::strerror(errno));
    // Socket buffer full: drop what was sent, wait until writable, carry on.
    out_pending_.erase(0, out_sent_);
    packet_end_ -= out_sent_;
    out_sent_ = 0;
    writing_ = true;
    socket_.async_wait(tcp::socket::wait_write, [this](const boost::system::error_code& ec) {
      writing_ = false;
      if (closed_) return;
      if (ec) return Fail("write: " + ec.message());
      FlushPerPacket();
    });
    return;
  }
  out_pending_.clear();
  out_sent_ = packet_end_ = 0;
}

void Client::SetReadThrottle(int64_t bytes_per_s) {
  options_.read_bytes_per_s = bytes_per_s;
  read_budget_ = TokenBucket(bytes_per_s, ReadBurstBytes(bytes_per_s), NowNs());
  // A pending throttle wait ends now (its handler reads at the new pace).
  if (read_waiting_) read_timer_.cancel();
}

void Client::DoRead() {
  if (closed_ || read_waiting_) return;
  if (in_used_ == in_.size()) in_.resize(in_.size() * 2);  // a frame larger than the buffer
  size_t space = in_.size() - in_used_;
  if (read_budget_.limited()) {
    const int64_t now = NowNs();
    const int64_t budget = read_budget_.Available(now);
    if (budget <= 0) {
      const int64_t wait_ns = std::max<int64_t>(
          1'000'000, read_budget_.NsUntil(ReadBurstBytes(options_.read_bytes_per_s), now));
      read_waiting_ = true;
      read_timer_.expires_after(std::chrono::nanoseconds(wait_ns));
      read_timer_.async_wait([this](const boost::system::error_code&) {
        read_waiting_ = false;
        DoRead();  // also when cancelled by SetReadThrottle; DoRead checks closed_
      });
      return;
    }
    space = std::min<size_t>(space, static_cast<size_t>(budget));
  }
  ReadSome(space);
}

void Client::ReadSome(size_t max_bytes) {
  socket_.async_read_some(asio::buffer(in_.data() + in_used_, max_bytes),
                          [this](const boost::system::error_code& ec, size_t n) {
                            if (closed_) return;
                            if (ec) return Fail(ec == asio::error::eof ? "closed by broker"
                                                                       : "read: " + ec.message());
                            read_budget_.Take(static_cast<int64_t>(n));
                            in_used_ += n;
                            if (ProcessInput()) DoRead();
                          });
}

bool Client::ProcessInput() {
  size_t at = 0;
  while (!closed_) {
    std::string_view view(in_.data() + at, in_used_ - at);
    mqtt::FrameHeader header;
    mqtt::CodecError error;
    mqtt::FrameStatus status = mqtt::PeekFrame(view, kMaxPacketBytes, &header, &error);
    if (status == mqtt::FrameStatus::kNeedMore) break;
    if (status == mqtt::FrameStatus::kError) {
      Fail("bad frame: " + error.message);
      return false;
    }
    std::string_view frame = view.substr(0, header.frame_size());
    at += header.frame_size();
    if (!HandleFrame(header.first_byte, frame.substr(header.header_size), frame)) return false;
  }
  if (closed_) return false;
  if (at > 0) {
    std::memmove(in_.data(), in_.data() + at, in_used_ - at);
    in_used_ -= at;
  }
  Flush();
  return true;
}

bool Client::HandleFrame(uint8_t first_byte, std::string_view body, std::string_view frame) {
  const auto type = static_cast<mqtt::PacketType>(first_byte >> 4);
  switch (type) {
    case mqtt::PacketType::kPublish: {
      const uint8_t qos = (first_byte >> 1) & 3;
      if (body.size() < 2) break;
      size_t at = 2 + Be16(body.data());
      uint16_t packet_id = 0;
      if (qos > 0) {
        if (body.size() < at + 2) break;
        packet_id = Be16(body.data() + at);
        at += 2;
      }
      if (options_.version == mqtt::Version::k5) {
        uint32_t props = 0, shift = 0;
        while (at < body.size()) {
          uint8_t b = static_cast<uint8_t>(body[at++]);
          props |= static_cast<uint32_t>(b & 0x7f) << shift;
          shift += 7;
          if (!(b & 0x80)) break;
        }
        at += props;
      }
      if (at > body.size()) break;
      if (qos == 1) SendAck(mqtt::PacketType::kPuback, packet_id);
      if (qos == 2) SendAck(mqtt::PacketType::kPubrec, packet_id);
      listener_->OnMessage(this, body.substr(at));
      return !closed_;
    }
    case mqtt::PacketType::kPuback:
    case mqtt::PacketType::kPubcomp:
      if (body.size() < 2) break;
      listener_->OnAcked(this, Be16(body.data()));
      return !closed_;
    case mqtt::PacketType::kPubrec:
      if (body.size() < 2) break;
      SendAck(mqtt::PacketType::kPubrel, Be16(body.data()));
      return true;
    case mqtt::PacketType::kPubrel:
      if (body.size() < 2) break;
      SendAck(mqtt::PacketType::kPubcomp, Be16(body.data()));
      return true;
    case mqtt::PacketType::kPingresp:
      return true;
    default: {
      mqtt::Packet packet;
      mqtt::CodecError error;
      if (!mqtt::Decode(frame, options_.version, &packet, &error)) {
        Fail("undecodable packet: " + error.message);
        return false;
      }
      if (auto* ack = std::get_if<mqtt::Connack>(&packet)) {
        if (ack->reason_code != mqtt::reason::kSuccess) {
          Fail("CONNACK reason " + std::to_string(ack->reason_code));
          return false;
        }
        connected_ = true;
        connack_ns_ = NowNs();
        timer_.cancel();
        ArmKeepAlive();
        listener_->OnConnected(this);
        return !closed_;
      }
      if (auto* suback = std::get_if<mqtt::Suback>(&packet)) {
        bool ok = !suback->reason_codes.empty() && suback->reason_codes[0] < 0x80;
        listener_->OnSubscribed(this, ok);
        return !closed_;
      }
      if (auto* d = std::get_if<mqtt::Disconnect>(&packet)) {
        Fail("DISCONNECT reason " + std::to_string(d->reason_code));
        return false;
      }
      return true;  // anything else is ignored
    }
  }
  Fail("truncated packet");
  return false;
}

void Client::SendAck(mqtt::PacketType type, uint16_t packet_id) {
  const std::string& t = AckTemplate(options_.version, type);
  size_t at = out_pending_.size();
  out_pending_.append(t);
  out_pending_[at + 2] = static_cast<char>(packet_id >> 8);
  out_pending_[at + 3] = static_cast<char>(packet_id);
}

void Client::Fail(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  read_timer_.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
  listener_->OnFailed(this, why);
}

void Client::ArmKeepAlive() {
  if (options_.keep_alive_s == 0) return;
  // Ping when nothing was sent for 3/4 of the keep alive.
  const int64_t period_ms = options_.keep_alive_s * 750;
  timer_.expires_after(std::chrono::milliseconds(period_ms));
  timer_.async_wait([this, period_ms](const boost::system::error_code& ec) {
    if (ec || closed_) return;
    if (NowNs() - last_tx_ns_ >= period_ms * 1'000'000 - 1'000'000) {
      mqtt::Encode(mqtt::Pingreq{}, options_.version, &out_pending_);
      Flush();
    }
    ArmKeepAlive();
  });
}

}  // namespace sluice::bench
