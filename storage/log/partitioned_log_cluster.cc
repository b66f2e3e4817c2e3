// PartitionedLog: how proposals reach the driver, and in cluster mode with forward_proposals
// (partitioned_log.h) how one made while no leader is known waits for one, in order.
#include <utility>

#include "cluster/raft/raft.h"
#include "storage/log/partitioned_log.h"

namespace sluice::storage {

void PartitionedLog::Propose(PartitionId partition, std::string command, ProposeCallback done) {
  ProposeGroup(LogState::GroupOf(partition), std::move(command), std::move(done));
}

void PartitionedLog::ProposeGroup(GroupId group, std::string command, ProposeCallback done) {
  if (!retrying()) return raft_->Propose(group, std::move(command), std::move(done));
  const Clock* clock = options_.raft_clock != nullptr ? options_.raft_clock : options_.clock;
  const int64_t now_ms = clock->NowMs();
  Parked p{0, now_ms + options_.forward_retry_ms, now_ms + options_.append_timeout_ms, group,
           std::make_shared<const std::string>(std::move(command)), std::move(done)};
  {
    // Behind the group's proposals that wait for a leader (or are being retried): proposing
    // now could put this one ahead of them in the log.
    std::unique_lock<std::mutex> lock(retry_mu_);
    auto it = parked_.find(group);
    if (it != parked_.end() && (!it->second.parked.empty() || it->second.in_flight > 0)) {
      lock.unlock();
      return Park(std::move(p), false);
    }
  }
  TryPropose(std::move(p), false);
}

void PartitionedLog::TryPropose(Parked p, bool retry) {
  // The driver takes its own copy: `command` is kept for a retry.
  std::string command = *p.command;
  const GroupId group = p.group;
  raft_->Propose(group, std::move(command),
                 [this, p = std::move(p), retry](absl::StatusOr<LogIndex> r) mutable {
                   const Clock* clock =
                       options_.raft_clock != nullptr ? options_.raft_clock : options_.clock;
                   const int64_t now_ms = clock->NowMs();
                   if (!r.ok() && raft::IsProposalDropped(r.status()) &&
                       now_ms + options_.forward_retry_ms < p.deadline_ms) {
                     p.due_ms = now_ms + options_.forward_retry_ms;
                     return Park(std::move(p), retry);
                   }
                   if (retry) {
                     std::lock_guard<std::mutex> lock(retry_mu_);
                     --parked_[p.group].in_flight;
                   }
                   p.done(std::move(r));
                 });
}

void PartitionedLog::Park(Parked p, bool retry) {
  {
    std::lock_guard<std::mutex> lock(retry_mu_);
    ParkedGroup& g = parked_[p.group];
    if (retry) --g.in_flight;
    if (!retry_stopping_ && parked_count_ < options_.pending_appends_max) {
      if (p.seq == 0) p.seq = ++parked_seq_;
      if (!retry) ++proposals_parked_;
      ++parked_count_;
      proposals_parked_now_ = parked_count_;
      g.parked.emplace(p.seq, std::move(p));
      retry_cv_.notify_one();
      return;
    }
  }
  p.done(absl::FailedPreconditionError("commit log: no leader, and no room to wait for one"));
}

void PartitionedLog::RetryLoop() {
  const Clock* clock = options_.raft_clock != nullptr ? options_.raft_clock : options_.clock;
  std::unique_lock<std::mutex> lock(retry_mu_);
  while (!retry_stopping_) {
    int64_t due_ms = INT64_MAX;
    for (const auto& [group, g] : parked_) {
      if (!g.parked.empty()) due_ms = std::min(due_ms, g.parked.begin()->second.due_ms);
    }
    if (due_ms == INT64_MAX) {
      retry_cv_.wait(lock);
      continue;
    }
    if (const int64_t wait_ms = due_ms - clock->NowMs(); wait_ms > 0) {
      retry_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
      continue;
    }
    // Every waiting proposal goes again (they all wait the same delay), each group's in order.
    std::vector<Parked> due;
    for (auto& [group, g] : parked_) {
      g.in_flight += g.parked.size();
      for (auto& [seq, p] : g.parked) due.push_back(std::move(p));
      g.parked.clear();
    }
    parked_count_ = 0;
    proposals_parked_now_ = 0;
    lock.unlock();
    for (Parked& p : due) TryPropose(std::move(p), true);
    lock.lock();
  }
}

void PartitionedLog::StopRetries() {
  std::vector<Parked> left;
  {
    std::lock_guard<std::mutex> lock(retry_mu_);
    retry_stopping_ = true;
    for (auto& [group, g] : parked_) {
      for (auto& [seq, p] : g.parked) left.push_back(std::move(p));
      g.parked.clear();
    }
    parked_count_ = 0;
    proposals_parked_now_ = 0;
  }
  retry_cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
  for (Parked& p : left) p.done(absl::CancelledError("commit log: closed while waiting for a leader"));
}

}  // namespace sluice::storage
