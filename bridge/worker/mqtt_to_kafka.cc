#include "bridge/worker/mqtt_to_kafka.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "base/log.h"

namespace sluice::bridge {

// Outlives the bridge when a cursor commit completes late (its callback runs on the log's
// driver thread and holds a reference).
struct MqttToKafkaBridge::Shared {
  int pipe_read = -1;
  int pipe_write = -1;
  std::atomic<bool> wake_pending{false};
  struct CommitDone {
    uint32_t worker;
    Offset offset;
    absl::Status status;
  };
  std::mutex mu;
  std::vector<CommitDone> commits;

  void Wake() {
    if (!wake_pending.exchange(true)) {
      char b = 'w';
      (void)!write(pipe_write, &b, 1);  // non-blocking; a full pipe already wakes the reader
    }
  }
  ~Shared() {
    if (pipe_read >= 0) close(pipe_read);
    if (pipe_write >= 0) close(pipe_write);
  }
};

MqttToKafkaBridge::MqttToKafkaBridge(MqttToKafkaOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {}

absl::StatusOr<std::unique_ptr<MqttToKafkaBridge>> MqttToKafkaBridge::Start(MqttToKafkaOptions options) {
  if (options.log == nullptr) return absl::InvalidArgumentError("bridge: no log");
  const uint32_t partitions = options.log->partitions();
  if (options.config.mqtt_to_kafka.size() * partitions >= (1u << 16)) {
    return absl::InvalidArgumentError("bridge: too many rules x partitions (max 65535 workers)");
  }
  std::unique_ptr<MqttToKafkaBridge> b(new MqttToKafkaBridge(std::move(options)));
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return absl::InternalError("bridge: pipe2 failed");
  b->shared_->pipe_read = fds[0];
  b->shared_->pipe_write = fds[1];
  const BridgeConfig& c = b->options_.config;
  for (const MqttToKafkaRule& rule : c.mqtt_to_kafka) {
    for (uint32_t p = 0; p < partitions; ++p) {
      auto w = std::make_unique<PartitionWorker>(static_cast<uint32_t>(b->workers_.size()), &rule,
                                                 PartitionId(p), b->options_.log, &c.limits);
      absl::Status s = w->Load();
      if (!s.ok()) return s;
      b->workers_.push_back(std::move(w));
    }
  }
  absl::Status s = b->CreateProducer();
  if (!s.ok()) return s;
  MqttToKafkaBridge* self = b.get();
  b->produce_ = [self](const KafkaRecord& r, uint64_t token) { return self->producer_->Produce(r, token); };
  b->commit_ = [self](uint32_t worker, Offset offset) { self->Commit(worker, offset); };
  b->PublishStatus();
  b->thread_ = std::thread([self] { self->Run(); });
  SLOG(kInfo) << "mqtt->kafka bridge started rules=" << c.mqtt_to_kafka.size()
              << " workers=" << b->workers_.size() << " bootstrap=" << c.kafka.bootstrap_servers;
  return b;
}

MqttToKafkaBridge::~MqttToKafkaBridge() { Stop(); }

absl::Status MqttToKafkaBridge::CreateProducer() {
  auto p = kafka::KafkaProducer::Create(
      options_.config.kafka,
      [this](uint64_t token, absl::Status status) {
        uint32_t w = TokenWorker(token);
        Offset offset = TokenOffset(token);
        workers_[w]->OnDelivery(offset, status, options_.clock->NowMs());
        if (status.ok() && options_.on_delivered) options_.on_delivered(workers_[w]->partition(), offset);
      },
      [this](absl::Status status, bool fatal) {
        SLOG(kWarn) << "kafka producer error fatal=" << fatal << " error=\"" << status.message() << "\"";
        int64_t now = options_.clock->NowMs();
        for (auto& w : workers_) w->NoteError(std::string(status.message()), now);
        if (fatal) fatal_ = true;
      },
      shared_->pipe_write);
  if (!p.ok()) return p.status();
  producer_ = *std::move(p);
  return absl::OkStatus();
}

void MqttToKafkaBridge::Notify() { shared_->Wake(); }

void MqttToKafkaBridge::Commit(uint32_t worker, Offset offset) {
  std::shared_ptr<Shared> shared = shared_;
  options_.log->CommitCursor(workers_[worker]->partition(),
                             PartitionWorker::CursorName(workers_[worker]->rule()),
                             offset, /*expiry_ms=*/0, [shared, worker, offset](absl::Status s) {
                               {
                                 std::lock_guard<std::mutex> l(shared->mu);
                                 shared->commits.push_back({worker, offset, std::move(s)});
                               }
                               shared->Wake();
                             });
}

bool MqttToKafkaBridge::DrainCommits(int64_t now_ms) {
  std::vector<Shared::CommitDone> done;
  {
    std::lock_guard<std::mutex> l(shared_->mu);
    done.swap(shared_->commits);
  }
  for (const auto& d : done) workers_[d.worker]->OnCommitDone(d.offset, d.status, now_ms);
  return !done.empty();
}

void MqttToKafkaBridge::Sleep(int timeout_ms) {
  pollfd pfd{shared_->pipe_read, POLLIN, 0};
  // Clear the flag first: a Wake() racing with the drain below writes again.
  shared_->wake_pending = false;
  if (timeout_ms > 0) poll(&pfd, 1, timeout_ms);
  char buf[256];
  while (read(shared_->pipe_read, buf, sizeof(buf)) > 0) {
  }
}

void MqttToKafkaBridge::RecreateProducer() {
  SLOG(kError) << "recreating the Kafka producer after a fatal error: " << producer_->FatalError().message();
  producer_->PurgeAll();
  // Every outstanding record fails with Cancelled; the workers rewind and resend.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.config.limits.stop_timeout_ms);
  auto pending = [&] {
    uint64_t n = 0;
    for (auto& w : workers_) n += w->pending();
    return n;
  };
  while (pending() > 0 && std::chrono::steady_clock::now() < deadline) producer_->Poll(50);
  producer_.reset();
  fatal_ = false;
  absl::Status s = CreateProducer();
  if (!s.ok()) SLOG(kError) << "cannot recreate the Kafka producer: " << s.message();
}

void MqttToKafkaBridge::Run() {
  const BridgeLimits& limits = options_.config.limits;
  constexpr int64_t kStatusRefreshMs = 100;  // lag moves while nothing else does
  int64_t last_status_ms = 0;
  while (!stop_.load()) {
    int64_t now = options_.clock->NowMs();
    bool changed = DrainCommits(now);
    if (ApplyPauseRequests()) PublishStatus();  // SetPaused waits for the snapshot
    if (fatal_.load()) RecreateProducer();
    if (producer_ == nullptr) {
      Sleep(static_cast<int>(limits.backoff_ms_max));
      if (CreateProducer().ok()) continue;
      continue;
    }
    bool progress = false;
    for (auto& w : workers_) progress |= w->Pump(now, produce_);
    int served = producer_->Poll(0);
    for (auto& w : workers_) w->MaybeCommit(now, false, commit_);
    if (progress || served > 0 || changed || now - last_status_ms >= kStatusRefreshMs) {
      PublishStatus();
      last_status_ms = now;
    }
    if (progress || served > 0) continue;
    int64_t wake_at = INT64_MAX;
    for (auto& w : workers_) wake_at = std::min(wake_at, w->WakeAtMs());
    int64_t timeout = std::clamp<int64_t>(wake_at == INT64_MAX ? limits.idle_poll_ms : wake_at - now, 0,
                                          limits.idle_poll_ms);
    Sleep(static_cast<int>(timeout));
  }
  Drain();
}

void MqttToKafkaBridge::Drain() {
  const int64_t deadline = options_.clock->NowMs() + options_.config.limits.stop_timeout_ms;
  auto outstanding = [&] {
    for (auto& w : workers_) {
      if (w->pending() > 0 || w->commit_inflight()) return true;
    }
    return false;
  };
  while (outstanding() && options_.clock->NowMs() < deadline) {
    if (producer_) producer_->Poll(0);
    DrainCommits(options_.clock->NowMs());
    if (!outstanding()) break;
    Sleep(static_cast<int>(std::clamp<int64_t>(deadline - options_.clock->NowMs(), 1, 50)));
  }
  // Final checkpoints, synchronously: a clean stop leaves nothing acknowledged unrecorded.
  int64_t now = options_.clock->NowMs();
  for (auto& w : workers_) {
    if (w->commit_inflight() || w->acknowledged() == w->checkpoint()) continue;
    Offset offset = w->acknowledged();
    absl::Status s = options_.log->CommitCursor(w->partition(), PartitionWorker::CursorName(w->rule()),
                                                offset, /*expiry_ms=*/0);
    w->OnCommitDone(offset, s, now);
  }
  producer_.reset();  // purges what is left: re-read from the checkpoint next time
  for (auto& w : workers_) w->set_stopped();
  PublishStatus();
}

void MqttToKafkaBridge::Stop() {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stop_ = true;
  shared_->Wake();
  if (thread_.joinable()) thread_.join();
  SLOG(kInfo) << "mqtt->kafka bridge stopped";
}

bool MqttToKafkaBridge::ApplyPauseRequests() {
  std::vector<std::pair<std::string, bool>> requests;
  {
    std::lock_guard<std::mutex> l(pause_mu_);
    requests.swap(pause_requests_);
  }
  for (const auto& [rule, paused] : requests) {
    for (auto& w : workers_) {
      if (!rule.empty() && w->rule().name != rule) continue;
      w->SetPaused(paused);
    }
    SLOG(kInfo) << "mqtt->kafka bridge " << (paused ? "paused" : "resumed")
                << " rule=" << (rule.empty() ? "*" : rule);
  }
  return !requests.empty();
}

absl::Status MqttToKafkaBridge::SetPaused(const std::string& rule, bool paused, int64_t timeout_ms) {
  bool known = rule.empty();
  for (const MqttToKafkaRule& r : options_.config.mqtt_to_kafka) known |= r.name == rule;
  if (!known) return absl::NotFoundError("no mqtt_to_kafka rule named '" + rule + "'");
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    if (stopped_) return absl::FailedPreconditionError("the mqtt->kafka bridge is stopped");
    std::lock_guard<std::mutex> p(pause_mu_);
    pause_requests_.emplace_back(rule, paused);
  }
  shared_->Wake();
  bool done = WaitForStatus(
      [&](const std::vector<WorkerStatus>& all) {
        for (const WorkerStatus& w : all) {
          if (!rule.empty() && w.rule != rule) continue;
          if (w.state == WorkerState::kStopped) return true;  // Stop() raced: nothing to wait for
          if ((w.state == WorkerState::kPaused) != paused) return false;
        }
        return true;
      },
      timeout_ms);
  if (!done) return absl::DeadlineExceededError("the mqtt->kafka bridge did not apply the change in time");
  return absl::OkStatus();
}

void MqttToKafkaBridge::PublishStatus() {
  std::vector<WorkerStatus> s;
  s.reserve(workers_.size());
  for (auto& w : workers_) s.push_back(w->Status());
  {
    std::lock_guard<std::mutex> l(status_mu_);
    status_ = std::move(s);
  }
  status_cv_.notify_all();
}

std::vector<WorkerStatus> MqttToKafkaBridge::Status() const {
  std::lock_guard<std::mutex> l(status_mu_);
  return status_;
}

bool MqttToKafkaBridge::WaitForStatus(const std::function<bool(const std::vector<WorkerStatus>&)>& done,
                                      int64_t timeout_ms) const {
  std::unique_lock<std::mutex> l(status_mu_);
  return status_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] { return done(status_); });
}

}  // namespace sluice::bridge
