#include "broker/server/broker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include <boost/asio/post.hpp>

#include "base/hash.h"
#include "base/log.h"
#include "base/strings.h"
#include "broker/net/listener.h"
#include "broker/server/connection.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace asio = boost::asio;
using asio::ip::tcp;

Broker::Broker(BrokerConfig config, const Clock* clock)
    : config_(std::move(config)), clock_(clock) {
  store_qos12_ = config_.durability == "log";
  {
    std::lock_guard<std::mutex> lock(runtime_mu_);
    UpdateSessionLimits(static_cast<uint32_t>(config_.max_queued_messages));
  }
  security_ = std::make_unique<Security>(this, config_.security);
  uint32_t n = config_.threads > 0 ? static_cast<uint32_t>(config_.threads)
                                   : std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < n; ++i)
    shards_.push_back(std::make_unique<Shard>(this, i, 0x5eed0000ULL + i, clock_));
}

Broker::~Broker() { Stop(); }

uint32_t Broker::HomeShard(std::string_view client_id) const {
  if (shards_.size() == 1) return 0;
  // A stable hash: the same client id has the same shard in every process (and, in the
  // cluster, the same answer on every node).
  return static_cast<uint32_t>(Fnv1a64(client_id) % shards_.size());
}

absl::Status Broker::Start() {
  acceptor_ = std::make_unique<tcp::acceptor>(shards_[0]->io());
  if (absl::Status st = net::OpenAcceptor(*acceptor_, config_.listen, "listen"); !st.ok()) {
    acceptor_.reset();
    return st;
  }
  // TLS/WebSocket listeners and auth files: loaded and bound before the state file is
  // consumed and before any thread runs.
  if (absl::Status st = security_->Load(); !st.ok()) {
    acceptor_.reset();
    return st;
  }
  if (absl::Status st = security_->StartListeners(); !st.ok()) {
    security_->DestroyListeners();
    acceptor_.reset();
    return st;
  }
  Durable::ClusterOptions cluster_options;
  if (config_.cluster.enabled()) {
    if (absl::Status st = StartCluster(&cluster_options); !st.ok()) {
      security_->DestroyListeners();
      acceptor_.reset();
      return st;
    }
  }
  auto durable = Durable::Open(config_, std::move(cluster_options));
  if (!durable.ok()) {
    cluster_.reset();
    security_->DestroyListeners();
    acceptor_.reset();
    return durable.status();
  }
  durable_ = std::move(*durable);
  if (cluster_) cluster_->Connect();  // the log started the transport: now the peers
  record_source_ = std::make_unique<LocalRecordSource>(durable_.get());
  for (auto& shard : shards_) shard->SetRecordSource(record_source_.get());
  RecoveryCounts recovered;
  if (absl::Status st = RecoverDurable(&recovered); !st.ok()) {
    durable_.reset();
    security_->DestroyListeners();
    acceptor_.reset();
    return st;
  }
  if (recovered.sessions || recovered.retained || recovered.sessions_expired) {
    SLOG(kInfo).Kv("sessions", recovered.sessions).Kv("expired", recovered.sessions_expired)
        .Kv("retained", recovered.retained).Kv("inflight", recovered.messages)
        << "state recovered from the commit log";
  }
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  accept_backoff_ = std::make_unique<asio::steady_timer>(shards_[0]->io());
  for (auto& shard : shards_) shard->StartThread();
  for (auto& shard : shards_) asio::post(shard->io(), [s = shard.get()] { s->StartCursorTimer(); });
  started_ = true;
  asio::post(shards_[0]->io(), [this] { Accept(); });
  SLOG(kInfo).Kv("listen", BoundAddress()).Kv("shards", shards_.size()) << "MQTT listener ready";
  return absl::OkStatus();
}

std::string Broker::BoundAddress() const { return net::BoundAddressOf(acceptor_.get()); }

void Broker::Accept() {
  Shard* target = shards_[next_accept_shard_].get();
  next_accept_shard_ = (next_accept_shard_ + 1) % shards_.size();
  acceptor_->async_accept(target->io(), [this, target](const boost::system::error_code& ec,
                                                       tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) return;
    if (ec) {
      if (!OnAcceptError(ec)) return;  // re-armed after a back-off
    } else {
      // Connection limits, checked before anything is allocated for the socket; a refused
      // socket is closed when `socket` goes out of scope (counted and logged by Admission).
      boost::system::error_code ep_ec;
      auto peer = socket.remote_endpoint(ep_ec);
      std::shared_ptr<void> ticket =
          ep_ec ? nullptr : security_->Admit(peer.address().to_string());
      if (ticket) {
        asio::post(target->io(), [target, s = std::move(socket), t = std::move(ticket)]() mutable {
          auto c = std::make_shared<Connection>(target, std::move(s));
          c->SetAdmission(std::move(t));
          c->Start();
        });
      }
    }
    Accept();
  });
}

bool Broker::OnAcceptError(const boost::system::error_code& ec) {
  BrokerStats& stats = shards_[0]->stats();
  bool out_of_fds = ec == asio::error::no_descriptors || ec.value() == ENFILE;
  uint64_t refused = 0;
  if (out_of_fds && reserve_fd_ >= 0) {
    // The waiting client would otherwise sit in the backlog forever while accept keeps
    // failing: spend the reserve descriptor to accept it, close it at once (the client sees
    // the connection closed), and take the reserve back.
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    int fd = ::accept4(acceptor_->native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      refused = 1;
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  BrokerStats::Inc(stats.connect_refused, refused);
  ++accept_errors_since_log_;
  int64_t now = shards_[0]->NowMs();
  if (now - last_accept_error_log_ms_ >= 1000) {
    SLOG(kWarn).Kv("error", ec.message()).Kv("errors", accept_errors_since_log_)
        << "accept failing; refusing connections";
    accept_errors_since_log_ = 0;
    last_accept_error_log_ms_ = now;
  }
  if (refused) return true;  // one client handled: try the next at once
  // Nothing could be accepted: back off instead of spinning on the error.
  accept_backoff_->expires_after(std::chrono::milliseconds(100));
  accept_backoff_->async_wait([this](const boost::system::error_code& wait_ec) {
    if (!wait_ec && acceptor_ && acceptor_->is_open()) Accept();
  });
  return false;
}

void Broker::Stop() {
  if (!started_) return;
  started_ = false;
  asio::post(shards_[0]->io(), [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
    accept_backoff_->cancel();
  });
  security_->StopListeners();
  if (cluster_) cluster_->StopLinks();  // nothing more from or to the peers
  // Each shard disconnects its clients (0x8B), cancels its timers and lets its io_context run
  // out of work once the DISCONNECT packets are written; a shard still busy at the deadline
  // (a client not reading) is stopped.
  for (auto& shard : shards_) {
    asio::post(shard->io(), [s = shard.get()] { s->Shutdown(); });
    shard->ReleaseWork();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (auto& shard : shards_) {
    if (!shard->WaitFinished(deadline)) shard->StopIo();
  }
  for (auto& shard : shards_) shard->JoinThread();
  security_->DestroyListeners();  // asio objects go before their io_contexts
  acceptor_.reset();
  // Every shard thread has stopped: their state can be read from here.
  SaveDurableOnStop();
  durable_.reset();
}

void Broker::Broadcast(uint32_t origin, std::function<void(Shard&)> fn,
                       std::function<void()> done) {
  auto remaining = std::make_shared<std::atomic<uint32_t>>(static_cast<uint32_t>(shards_.size()));
  auto fn_ptr = std::make_shared<std::function<void(Shard&)>>(std::move(fn));
  auto done_ptr = std::make_shared<std::function<void()>>(std::move(done));
  Shard* origin_shard = shards_[origin].get();
  auto finish = [remaining, done_ptr, origin_shard](bool on_origin) {
    if (remaining->fetch_sub(1) != 1) return;
    if (on_origin) {
      (*done_ptr)();
    } else {
      asio::post(origin_shard->io(), [done_ptr] { (*done_ptr)(); });
    }
  };
  // Apply on the origin first and synchronously, so its own publishes see the change at once.
  (*fn_ptr)(*origin_shard);
  for (auto& shard : shards_) {
    if (shard.get() == origin_shard) continue;
    asio::post(shard->io(), [fn_ptr, finish, s = shard.get()] {
      (*fn_ptr)(*s);
      finish(false);
    });
  }
  finish(true);
}


StatsSnapshot Broker::Stats() const {
  StatsSnapshot s;
  for (const auto& shard : shards_) {
    const BrokerStats& b = shard->stats();
    s.connections_current += b.connections_current.load();
    s.connections_accepted += b.connections_accepted.load();
    s.messages_received += b.messages_received.load();
    s.messages_delivered += b.messages_delivered.load();
    s.messages_dropped += b.messages_dropped_queue_full.load() +
                          b.messages_dropped_expired.load() + b.messages_dropped_too_large.load() +
                          b.messages_dropped_write_buffer.load();
  }
  {
    s.retained = retained_.size();
  }
  return s;
}

}  // namespace sluice::broker
