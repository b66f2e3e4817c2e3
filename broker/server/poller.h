// Poller: one shard's own epoll set for its plain TCP client sockets, waited on through Asio
// as a single descriptor. Why not an Asio socket per client: Asio's reactor keeps ~170 bytes
// of state per registered socket, a tcp::socket is 80 bytes, and every read wait is a heap
// operation of ~130 bytes — together half of what an idle connection used to cost. Here an
// idle connection costs its file descriptor and the kernel's epoll entry (README
// "Performance", "Memory per idle connection").
//
// Sockets are registered edge-triggered for input, output and peer close: the owner must
// read until EAGAIN (or remember that input is pending) and write until EAGAIN before it
// waits for the next event.
//
// Thread-safety: none; owned by one shard and used on its thread. Ownership: tags are not
// owned; the batch callback gets every tag ready in one epoll_wait before any of them runs,
// so a callback may unregister others of the batch only if the caller holds them (the
// shard holds each connection of a batch).
// Errors: Add returns the errno of epoll_ctl as a status; a broken epoll set is a CHECK.
#ifndef SLUICE_BROKER_SERVER_POLLER_H_
#define SLUICE_BROKER_SERVER_POLLER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "absl/status/status.h"

namespace sluice::broker {

class Poller {
 public:
  struct Ready {
    void* tag;
    uint32_t events;  // EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR
  };
  using BatchHandler = std::function<void(const std::vector<Ready>&)>;

  // Events are read this many at a time; a full batch yields to the shard's other handlers
  // before the next.
  static constexpr int kBatch = 256;

  Poller(boost::asio::io_context& io, BatchHandler on_batch);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  absl::Status Add(int fd, void* tag);
  // Before the fd is closed or handed elsewhere.
  void Remove(int fd);
  size_t size() const { return registered_; }

 private:
  void Arm();
  void Run();

  boost::asio::io_context& io_;
  BatchHandler on_batch_;
  boost::asio::posix::stream_descriptor epoll_;
  size_t registered_ = 0;
  bool armed_ = false;    // an async_wait on epoll_ is pending
  bool running_ = false;  // a Run is posted or under way
  std::vector<Ready> batch_;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_POLLER_H_
