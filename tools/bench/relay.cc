#include "tools/bench/relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sluice::bench {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
constexpr size_t kScratchBytes = 64 * 1024;
constexpr int kReadsPerWakeup = 4;  // then let other connections have their turn
constexpr size_t kCompactOutBytes = 1 << 20;

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint16_t Be16(std::string_view s) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[0]) << 8) | static_cast<uint8_t>(s[1]));
}

}  // namespace

struct Relay::Conn {
  int fd = -1;
  size_t slot = 0;           // index in conns_
  size_t sub_index = kNone;  // index in subscribers_, once it subscribed
  bool v5 = false;
  bool dirty = false;        // in dirty_: output to flush after this round
  bool watching_writes = false;
  bool closing = false;
  uint8_t max_qos = 0;       // highest QoS granted to any of its subscriptions
  uint16_t next_packet_id = 0;
  std::string in;            // an incomplete trailing frame, usually empty
  std::string out;
  size_t out_at = 0;         // bytes of `out` already sent
};

Relay::Relay() : scratch_(kScratchBytes, '\0') {}

Relay::~Relay() {
  for (auto& c : conns_) ::close(c->fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool Relay::Listen(const std::string& host_port, std::string* error) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  char* end = nullptr;
  const long port = colon == std::string::npos ? -1 : std::strtol(host_port.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || port < 0 || port > 65535 || end == nullptr || *end != '\0' ||
      end == host_port.c_str() + colon + 1 ||
      inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    *error = "--listen: expected IPv4 HOST:PORT, got '" + host_port + "'";
    return false;
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (epoll_fd_ < 0 || listen_fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 4096) != 0) {
    *error = "listen on " + host_port + ": " + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr = the listener
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  return true;
}

std::string Relay::BoundAddress() const {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(addr.sin_port));
}

void Relay::Run(const volatile std::sig_atomic_t* stop) {
  std::vector<epoll_event> events(1024);
  while (!*stop) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 200);
    if (n < 0 && errno != EINTR) {
      std::perror("relay: epoll_wait");
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        Accept();
        continue;
      }
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->closing) continue;  // closed earlier in this round
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c);
      if (!c->closing && (events[i].events & EPOLLOUT)) Queue(c);
    }
    FlushDirty();
    closed_.clear();
    if (listen_paused_until_ns_ != 0 && MonotonicNs() >= listen_paused_until_ns_) {
      listen_paused_until_ns_ = 0;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = nullptr;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    }
  }
}

void Relay::Accept() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors (or memory): the connection stays in the backlog and the
      // level-triggered listener would wake us again at once; stop watching it for 100 ms.
      std::fprintf(stderr, "relay: accept: %s (pausing accepts for 100 ms)\n", std::strerror(errno));
      epoll_event ev{};
      ev.data.ptr = nullptr;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
      listen_paused_until_ns_ = MonotonicNs() + 100'000'000;
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->slot = conns_.size();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c.get();
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_.push_back(std::move(c));
  }
}

void Relay::Read(Conn* c) {
  for (int reads = 0; reads < kReadsPerWakeup; ++reads) {
    const ssize_t n = recv(c->fd, scratch_.data(), scratch_.size(), 0);
    if (n == 0) return Close(c);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Close(c);
      return;
    }
    const std::string_view data(scratch_.data(), static_cast<size_t>(n));
    // Frames are handled straight from the scratch buffer; only a partial trailing frame
    // is copied into the connection.
    if (c->in.empty()) {
      const size_t used = Consume(c, data);
      if (used == kNone) return;
      if (used < data.size()) c->in.assign(data.substr(used));
    } else {
      c->in.append(data);
      const size_t used = Consume(c, c->in);
      if (used == kNone) return;
      c->in.erase(0, used);
    }
    if (static_cast<size_t>(n) < scratch_.size()) return;  // drained for now
  }
}

size_t Relay::Consume(Conn* c, std::string_view data) {
  size_t at = 0;
  while (at < data.size()) {
    wire::Frame frame;
    const wire::FrameStatus status = wire::PeekFrame(data.substr(at), &frame);
    if (status == wire::FrameStatus::kNeedMore) break;
    if (status == wire::FrameStatus::kMalformed ||
        !Handle(c, frame, data.substr(at + frame.header_bytes, frame.body_bytes))) {
      Close(c);
      return kNone;
    }
    at += frame.size();
  }
  return at;
}

// False: close the connection (malformed packet or DISCONNECT).
bool Relay::Handle(Conn* c, const wire::Frame& frame, std::string_view body) {
  switch (frame.type()) {
    case wire::kConnect: {
      uint8_t level = 0;
      if (!wire::ConnectLevel(body, &level)) return false;
      c->v5 = level == 5;
      wire::AppendConnack(c->v5, &c->out);
      break;
    }
    case wire::kPublish: {
      wire::PublishView p;
      if (!wire::ParsePublish(frame.first_byte, body, c->v5, &p)) return false;
      if (p.qos == 1) wire::AppendAck(0x40, p.packet_id, &c->out);
      if (p.qos == 2) wire::AppendAck(0x50, p.packet_id, &c->out);
      Forward(p);
      if (p.qos == 0) return true;
      break;
    }
    case wire::kPubrel:
      if (body.size() < 2) return false;
      wire::AppendAck(0x70, Be16(body), &c->out);
      break;
    case wire::kPubrec:  // from a subscriber we sent QoS 2 to
      if (body.size() < 2) return false;
      wire::AppendAck(0x62, Be16(body), &c->out);
      break;
    case wire::kSubscribe:
      if (!wire::AppendSuback(body, c->v5, &c->out, &c->max_qos)) return false;
      if (c->sub_index == kNone) {
        c->sub_index = subscribers_.size();
        subscribers_.push_back(c);
      }
      break;
    case wire::kUnsubscribe:  // still "has subscribed to anything": no topic state
      if (!wire::AppendUnsuback(body, c->v5, &c->out)) return false;
      break;
    case wire::kPingreq:
      wire::AppendPingresp(&c->out);
      break;
    case wire::kDisconnect:
      return false;
    default:  // PUBACK, PUBCOMP from subscribers; AUTH and the rest: nothing to do
      return true;
  }
  Queue(c);
  return true;
}

void Relay::Forward(const wire::PublishView& p) {
  for (auto& by_qos : variants_)
    for (Variant& v : by_qos) v.built = false;
  for (Conn* s : subscribers_) {
    const uint8_t qos = std::min(p.qos, s->max_qos);
    Variant& v = variants_[s->v5 ? 1 : 0][qos];
    if (!v.built) {
      v.bytes.clear();
      v.id_at = wire::AppendPublish(p, qos, s->v5, 0, &v.bytes);
      v.built = true;
    }
    const size_t at = s->out.size();
    s->out.append(v.bytes);
    if (qos > 0) {
      if (++s->next_packet_id == 0) s->next_packet_id = 1;
      s->out[at + v.id_at] = static_cast<char>(s->next_packet_id >> 8);
      s->out[at + v.id_at + 1] = static_cast<char>(s->next_packet_id);
    }
    Queue(s);
  }
}

void Relay::Queue(Conn* c) {
  if (c->dirty) return;
  c->dirty = true;
  dirty_.push_back(c);
}

void Relay::FlushDirty() {
  // Flush() may close a connection, which never adds to dirty_: iterating by index is safe.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Conn* c = dirty_[i];
    c->dirty = false;
    if (!c->closing) Flush(c);
  }
  dirty_.clear();
}

void Relay::Flush(Conn* c) {
  while (c->out_at < c->out.size()) {
    const ssize_t n = send(c->fd, c->out.data() + c->out_at, c->out.size() - c->out_at,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->out_at += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (c->out_at > kCompactOutBytes) {
        c->out.erase(0, c->out_at);
        c->out_at = 0;
      }
      WatchWrites(c, true);
      return;
    }
    return Close(c);
  }
  c->out.clear();
  c->out_at = 0;
  if (c->watching_writes) WatchWrites(c, false);
}

void Relay::WatchWrites(Conn* c, bool on) {
  if (c->watching_writes == on) return;
  c->watching_writes = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.ptr = c;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
}

void Relay::Close(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  if (c->sub_index != kNone) {
    Conn* last = subscribers_.back();
    subscribers_[c->sub_index] = last;
    last->sub_index = c->sub_index;
    subscribers_.pop_back();
    c->sub_index = kNone;
  }
  // Freed after this round: events of this round may still point at it.
  const size_t slot = c->slot;
  std::swap(conns_[slot], conns_.back());
  conns_[slot]->slot = slot;
  closed_.push_back(std::move(conns_.back()));
  conns_.pop_back();
}

}  // namespace sluice::bench
