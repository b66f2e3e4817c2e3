#include "cluster/multiraft/multiraft.h"

#include <algorithm>
#include <random>
#include <utility>

#include "base/check.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "cluster/multiraft/group.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/raft/rawnode.h"

namespace sluice::multiraft {

namespace {

// Without a seed: random per process start, so that proposals of an earlier run replayed from
// the log never complete this run's. With one: a pure function of it (simulation).
uint64_t Incarnation(uint64_t seed, const Clock* clock) {
  if (seed != 0) return SeededRng(seed).Next();
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^ static_cast<uint64_t>(clock->NowUs());
}

}  // namespace

MultiRaft::MultiRaft(MultiRaftOptions options, raftstore::LogStore* store,
                     transport::Transport* transport, StateMachine* state_machine)
    : options_(std::move(options)),
      store_(store),
      transport_(transport),
      sm_(state_machine),
      clock_(options_.clock != nullptr ? options_.clock : SystemClock::Get()),
      incarnation_(Incarnation(options_.seed, clock_)) {}

MultiRaft::~MultiRaft() { Stop(); }

absl::Status MultiRaft::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (started_) return absl::FailedPreconditionError("multiraft: already started");
  }
  ASSIGN_OR_RETURN(std::vector<GroupId> ids, store_->ListGroups());
  for (GroupId id : ids) {
    if (groups_.count(id) == 0) RETURN_IF_ERROR(OpenGroupLocked(id, raft::ConfState{}));
  }
  next_tick_ms_ = clock_->NowMs() + options_.tick_ms;
  {
    std::lock_guard<std::mutex> l(mu_);
    started_ = true;
  }
  if (options_.own_thread) thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void MultiRaft::Stop() {
  bool was_started = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    stop_ = true;
    was_started = started_;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();  // the thread ran Shutdown
  } else if (was_started && !options_.own_thread) {
    Shutdown();
  }
}

// Called before the thread starts (Start) or on the driver thread (CreateGroup).
absl::Status MultiRaft::OpenGroupLocked(GroupId id, const raft::ConfState& bootstrap) {
  if (groups_.count(id)) return absl::AlreadyExistsError("multiraft: group already open");
  ASSIGN_OR_RETURN(raftstore::GroupStorage * log, store_->OpenGroupStorage(id, bootstrap));
  auto g = std::make_unique<Group>();
  g->id = id;
  g->log = log;
  // Derived from the incarnation: random per process start, or from MultiRaftOptions::seed.
  g->rng = std::make_unique<SeededRng>(options_.self.value() * 1'000'003 + id.value() * 7919 +
                                       incarnation_);
  // The state machine restarts from the group's snapshot; later entries are applied again.
  ASSIGN_OR_RETURN(raft::Snapshot snap, log->GetSnapshot());
  if (!snap.IsEmpty()) sm_->Restore(id, snap.metadata.index, snap.data);
  g->applied = snap.metadata.index;
  g->conf_state = snap.metadata.conf_state;
  raft::Config c;
  c.id = options_.self;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.storage = log;
  c.rng = g->rng.get();
  c.applied = g->applied;
  c.max_size_per_msg = options_.max_size_per_msg;
  c.max_inflight_msgs = options_.max_inflight_msgs;
  c.max_uncommitted_entries_size = options_.max_uncommitted_entries_size;
  c.max_learner_lag_entries = options_.max_learner_lag_entries;
  c.check_quorum = options_.check_quorum;
  c.pre_vote = options_.pre_vote;
  // Without forwarding, proposals are made where the caller is told the outcome: the leader.
  c.disable_proposal_forwarding = !options_.forward_proposals;
  ASSIGN_OR_RETURN(g->raw, raft::RawNode::Create(c));
  g->soft = g->raw->raft().soft_state();
  Group& ref = *g;
  groups_.emplace(id, std::move(g));
  Publish(ref);
  return absl::OkStatus();
}

bool MultiRaft::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (in_tasks_.size() >= options_.inbox_requests_max) {
      ++stats_.requests_dropped_inbox_full;
      return false;
    }
    in_tasks_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void MultiRaft::PostRequest(ProposeCallback done, std::function<void(ProposeCallback)> fn) {
  const bool queued = Post([fn = std::move(fn), done]() mutable { fn(std::move(done)); });
  if (!queued) {
    done(absl::ResourceExhaustedError("multiraft: too many requests waiting for the driver"));
  }
}

absl::Status MultiRaft::CreateGroup(GroupId group, const raft::ConfState& bootstrap) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return absl::CancelledError("multiraft: stopped");
    // Before Start no driver thread runs, and without one the caller is the driver: the
    // caller's thread may touch the groups itself.
    if (!started_ || !options_.own_thread) return OpenGroupLocked(group, bootstrap);
  }
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> f = done->get_future();
  if (!Post([this, group, bootstrap, done] {
        done->set_value(OpenGroupLocked(group, bootstrap));
      })) {
    return absl::ResourceExhaustedError("multiraft: too many requests waiting for the driver");
  }
  return f.get();
}

void MultiRaft::Propose(GroupId group, std::string data, ProposeCallback done) {
  PostRequest(std::move(done),
              [this, group, data = std::move(data)](ProposeCallback d) mutable {
                ProposeOnDriver(group, std::move(data), false, {}, std::move(d));
              });
}

std::future<absl::StatusOr<LogIndex>> MultiRaft::Propose(GroupId group, std::string data) {
  auto p = std::make_shared<std::promise<absl::StatusOr<LogIndex>>>();
  auto f = p->get_future();
  Propose(group, std::move(data), [p](absl::StatusOr<LogIndex> r) { p->set_value(std::move(r)); });
  return f;
}

std::future<absl::StatusOr<LogIndex>> MultiRaft::ProposeConfChange(GroupId group,
                                                                   raft::ConfChange cc) {
  auto p = std::make_shared<std::promise<absl::StatusOr<LogIndex>>>();
  auto f = p->get_future();
  PostRequest([p](absl::StatusOr<LogIndex> r) { p->set_value(std::move(r)); },
              [this, group, cc = std::move(cc)](ProposeCallback d) mutable {
                ProposeOnDriver(group, {}, true, std::move(cc), std::move(d));
              });
  return f;
}

std::future<absl::StatusOr<LogIndex>> MultiRaft::PromoteLearner(GroupId group, NodeId learner) {
  return ProposeConfChange(group, raft::ConfChange{raft::ConfChangeType::kAddNode, learner, {}});
}

void MultiRaft::Campaign(GroupId group) {
  (void)Post([this, group] {
    auto it = groups_.find(group);
    if (it != groups_.end()) (void)it->second->raw->Campaign();
  });
}

void MultiRaft::TransferLeader(GroupId group, NodeId to) {
  (void)Post([this, group, to] {
    auto it = groups_.find(group);
    if (it != groups_.end()) it->second->raw->TransferLeader(to);
  });
}

std::optional<GroupStatus> MultiRaft::Status(GroupId group) const {
  std::lock_guard<std::mutex> l(status_mu_);
  auto it = status_.find(group);
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

bool MultiRaft::AwaitStatus(GroupId group, const std::function<bool(const GroupStatus&)>& pred,
                            std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(status_mu_);
  return status_cv_.wait_for(l, timeout, [&] {
    auto it = status_.find(group);
    return it != status_.end() && pred(it->second);
  });
}

MultiRaftStats MultiRaft::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void MultiRaft::HandleMessages(NodeId from, std::vector<transport::GroupMessage> batch) {
  {
    std::lock_guard<std::mutex> l(mu_);
    const uint64_t room = options_.inbox_msgs_max > in_msgs_.size()
                              ? options_.inbox_msgs_max - in_msgs_.size() : 0;
    if (batch.size() > room) {
      stats_.messages_dropped_inbox_full += batch.size() - room;
      batch.resize(room);
    }
    for (auto& gm : batch) in_msgs_.push_back(std::move(gm));
  }
  cv_.notify_one();
}

void MultiRaft::HandleUnreachable(NodeId peer) {
  {
    std::lock_guard<std::mutex> l(mu_);
    // Once per peer and turn: the queue is bounded by the number of peers.
    if (std::find(in_unreachable_.begin(), in_unreachable_.end(), peer) != in_unreachable_.end()) {
      return;
    }
    in_unreachable_.push_back(peer);
  }
  cv_.notify_one();
}

void MultiRaft::HandleSnapshotStatus(GroupId group, NodeId to, bool delivered) {
  {
    std::lock_guard<std::mutex> l(mu_);
    in_snap_status_.emplace_back(group, to, delivered);
  }
  cv_.notify_one();
}

void MultiRaft::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      // Until the next tick by the injected clock, re-checked at least every tick_ms of real
      // time (a manual clock moved by a test is noticed within one tick).
      const int64_t wait_ms =
          std::clamp<int64_t>(next_tick_ms_ - clock_->NowMs(), 0, options_.tick_ms);
      cv_.wait_for(l, std::chrono::milliseconds(wait_ms), [&] {
        return stop_ || !in_msgs_.empty() || !in_unreachable_.empty() ||
               !in_snap_status_.empty() || !in_tasks_.empty();
      });
      if (stop_) break;
    }
    Turn();
  }
  Shutdown();
}

bool MultiRaft::RunOnce() {
  {
    std::lock_guard<std::mutex> l(mu_);
    SLUICE_CHECK_MSG(!options_.own_thread, "MultiRaft::RunOnce with a driver thread");
    SLUICE_CHECK_MSG(started_ && !stop_, "MultiRaft::RunOnce before Start or after Stop");
  }
  return Turn();
}

bool MultiRaft::Turn() {
  {
    std::lock_guard<std::mutex> l(mu_);
    turn_msgs_.swap(in_msgs_);
    turn_unreachable_.swap(in_unreachable_);
    turn_snap_status_.swap(in_snap_status_);
    turn_tasks_.swap(in_tasks_);
    // Publish the driver's counters (the inbox-full counters are kept under mu_ directly).
    const uint64_t inbox_full = stats_.messages_dropped_inbox_full;
    const uint64_t requests_full = stats_.requests_dropped_inbox_full;
    stats_ = driver_stats_;
    stats_.messages_dropped_inbox_full = inbox_full;
    stats_.requests_dropped_inbox_full = requests_full;
  }
  const bool had_input = !turn_msgs_.empty() || !turn_unreachable_.empty() ||
                         !turn_snap_status_.empty() || !turn_tasks_.empty();
  ++driver_stats_.loop_turns;
  for (transport::GroupMessage& gm : turn_msgs_) {
    auto it = groups_.find(gm.group);
    if (it == groups_.end()) {
      ++driver_stats_.messages_unknown_group;
      continue;
    }
    // Errors are the core's refusals of forwarded requests and of responses from non-members
    // (rawnode.h): nothing to do about them here.
    (void)it->second->raw->Step(std::move(gm.message));
  }
  turn_msgs_.clear();
  for (NodeId peer : turn_unreachable_) {
    for (auto& [id, g] : groups_) {
      if (g->soft.raft_state == raft::StateType::kLeader) g->raw->ReportUnreachable(peer);
    }
  }
  turn_unreachable_.clear();
  for (auto& [group, to, ok] : turn_snap_status_) {
    auto it = groups_.find(group);
    if (it == groups_.end()) continue;
    it->second->raw->ReportSnapshot(
        to, ok ? raft::SnapshotStatus::kFinish : raft::SnapshotStatus::kFailure);
  }
  turn_snap_status_.clear();
  for (auto& task : turn_tasks_) task();
  turn_tasks_.clear();
  FlushAllProposals();
  const int64_t now_ms = clock_->NowMs();
  if (now_ms >= next_tick_ms_) {
    Tick(now_ms);
    next_tick_ms_ += options_.tick_ms;
    // Fell far behind: do not tick in a burst.
    if (next_tick_ms_ < now_ms) next_tick_ms_ = now_ms + options_.tick_ms;
  }
  return HandleReadies() > 0 || had_input;
}

void MultiRaft::Shutdown() {
  // Requests that were still in the inbox: run them now, so that each completes (Cancelled;
  // group creations and campaign requests just run).
  shutting_down_ = true;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> l(mu_);
    tasks.swap(in_tasks_);
  }
  for (auto& task : tasks) task();
  // Nobody will complete what is pending.
  std::map<uint64_t, Pending> pending;
  pending.swap(pending_);
  for (auto& [seq, p] : pending) p.done(absl::CancelledError("multiraft: stopped"));
  CancelHeld();
  CancelReads();
}

void MultiRaft::Tick(int64_t now_ms) {
  for (auto& [id, g] : groups_) g->raw->Tick();
  ExpireReads(now_ms);
  ExpireHeld(now_ms);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      ProposeCallback done = std::move(it->second.done);
      it = pending_.erase(it);
      ++driver_stats_.proposals_failed;
      done(absl::DeadlineExceededError("multiraft: proposal not applied in time; outcome unknown"));
    } else {
      ++it;
    }
  }
}

void MultiRaft::Publish(Group& g) {
  const raft::Raft& r = g.raw->raft();
  GroupStatus s;
  s.leader = r.lead();
  s.term = r.term();
  s.state = r.state();
  s.commit = r.log().committed();
  s.applied = g.applied;
  s.last_index = r.log().LastIndex();
  s.conf_state = g.conf_state;
  if (r.state() == raft::StateType::kLeader) {
    for (const auto& [id, pr] : r.tracker().progress()) {
      if (id != r.id()) s.match[id] = pr.match;
    }
  }
  {
    std::lock_guard<std::mutex> l(status_mu_);
    auto it = status_.find(g.id);
    const NodeId before = it == status_.end() ? NodeId() : it->second.leader;
    s.leader_changes = it == status_.end() ? 0 : it->second.leader_changes;
    if (s.leader != before && s.leader != NodeId()) ++s.leader_changes;
    status_[g.id] = std::move(s);
  }
  status_cv_.notify_all();
}

}  // namespace sluice::multiraft
