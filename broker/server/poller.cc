#include "broker/server/poller.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include <boost/asio/post.hpp>

#include "base/check.h"

namespace sluice::broker {

namespace {
int NewEpoll() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  SLUICE_CHECK_MSG(fd >= 0, "epoll_create1 failed");
  return fd;
}
}  // namespace

Poller::Poller(boost::asio::io_context& io, BatchHandler on_batch)
    : io_(io), on_batch_(std::move(on_batch)), epoll_(io, NewEpoll()) {
  batch_.reserve(kBatch);
}

Poller::~Poller() = default;

absl::Status Poller::Add(int fd, void* tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = tag;
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return absl::InternalError(std::string("epoll_ctl(ADD): ") + ::strerror(errno));
  }
  ++registered_;
  Arm();
  return absl::OkStatus();
}

void Poller::Remove(int fd) {
  epoll_event ev{};
  if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, &ev) != 0) return;
  SLUICE_CHECK(registered_ > 0);
  // Nothing left to wait for: the pending wait must not keep the shard's io_context alive.
  if (--registered_ == 0 && armed_) epoll_.cancel();
}

void Poller::Arm() {
  if (armed_ || running_ || registered_ == 0) return;
  armed_ = true;
  epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      armed_ = false;
                      if (ec) return Arm();  // cancelled: re-armed if sockets came back
                      Run();
                    });
}

void Poller::Run() {
  running_ = true;
  epoll_event events[kBatch];
  int n = ::epoll_wait(epoll_.native_handle(), events, kBatch, 0);
  batch_.clear();
  for (int i = 0; i < n; ++i) batch_.push_back({events[i].data.ptr, events[i].events});
  if (!batch_.empty()) on_batch_(batch_);
  if (n == kBatch) {
    // More may be ready, and the set's own readiness is edge-triggered in Asio's reactor:
    // continue after the shard's other handlers instead of waiting for an edge.
    boost::asio::post(io_, [this] { Run(); });
    return;
  }
  running_ = false;
  Arm();
}

}  // namespace sluice::broker
