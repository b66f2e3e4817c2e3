// The driver's Ready cycle: persist every group's Ready in one write, send, apply, advance.
#include <algorithm>
#include <memory>
#include <map>
#include <utility>

#include "base/check.h"
#include "base/log.h"
#include "cluster/multiraft/multiraft.h"
#include "cluster/multiraft/group.h"
#include "cluster/multiraft/proposal.h"
#include "cluster/raft/rawnode.h"

namespace sluice::multiraft {

size_t MultiRaft::HandleReadies() {
  std::vector<std::pair<Group*, raft::Ready>> readies;
  for (auto& [id, g] : groups_) {
    if (g->raw->HasReady()) readies.emplace_back(g.get(), g->raw->GetReady());
  }
  if (readies.empty()) return 0;
  driver_stats_.readies += readies.size();

  // 1. One durable write for every group's hard state, entries and snapshot.
  std::unique_ptr<raftstore::LogBatch> batch = store_->NewLogBatch();
  for (auto& [g, rd] : readies) {
    if (rd.hard_state || !rd.entries.empty() || rd.snapshot) {
      batch->Append(g->log, rd.hard_state, rd.entries, rd.snapshot);
    }
  }
  if (!batch->empty()) {
    const int64_t started_us = clock_->NowUs();
    SLUICE_CHECK_OK(batch->Commit());
    const int64_t took_us = std::max<int64_t>(0, clock_->NowUs() - started_us);
    ++driver_stats_.storage_writes;
    driver_stats_.storage_write_latency.Observe(static_cast<uint64_t>(took_us));
  }

  // 2. Messages, grouped by destination node: one transport batch per peer.
  std::map<NodeId, std::vector<transport::GroupMessage>> out;
  for (auto& [g, rd] : readies) {
    for (raft::Message& m : rd.messages) {
      const NodeId to = m.to;
      out[to].push_back(transport::GroupMessage{g->id, std::move(m)});
    }
    rd.messages.clear();
  }
  for (auto& [to, msgs] : out) transport_->Send(to, std::move(msgs));

  // 3. Apply, complete proposals, advance.
  for (auto& [g, rd] : readies) {
    if (rd.snapshot && !rd.snapshot->IsEmpty()) {
      const raft::Snapshot& s = *rd.snapshot;
      sm_->Restore(g->id, s.metadata.index, s.data);
      g->applied = s.metadata.index;
      g->conf_state = s.metadata.conf_state;
    }
    ApplyCommitted(*g, rd.committed_entries);
    HandleReadStates(*g, rd.read_states);
    CompleteReads(*g);
    if (rd.soft_state) {
      const bool was_leader = g->soft.raft_state == raft::StateType::kLeader;
      const NodeId old_leader = g->soft.lead;
      g->soft = *rd.soft_state;
      if (!was_leader && options_.forward_proposals && old_leader != NodeId() &&
          g->soft.lead != old_leader) {
        // Proposals forwarded to the old leader may be lost with it, or still commit: the
        // caller learns "outcome unknown" now rather than at its deadline.
        FailGroupProposals(*g, absl::UnavailableError(
                                   "multiraft: the leader changed; outcome unknown"),
                           g->soft.lead);
      }
      if (was_leader && g->soft.raft_state != raft::StateType::kLeader) {
        FailGroupProposals(*g, absl::UnavailableError(
                                   "multiraft: leadership lost; outcome unknown"));
        FailUnconfirmedReads(*g, absl::UnavailableError(
                                     "multiraft: leadership lost before the read was confirmed"));
      }
    }
    g->raw->Advance(rd);
    MaybeSnapshot(*g);
    Publish(*g);
  }
  return readies.size();
}

void MultiRaft::ApplyCommitted(Group& g, const std::vector<raft::Entry>& entries) {
  // Own proposals complete after EndApplyBatch, when what they applied is written.
  applied_own_.clear();
  for (const raft::Entry& e : entries) {
    if (e.index <= g.applied) continue;  // covered by a snapshot applied in the same Ready
    g.applied = e.index;
    if (e.type == raft::EntryType::kConfChange) {
      absl::StatusOr<raft::ConfChange> cc = raft::ConfChange::Decode(e.data);
      SLUICE_CHECK_MSG(cc.ok(), "undecodable conf change in the committed log");
      g.conf_state = g.raw->ApplyConfChange(*cc);
      g.snapshot_due = true;
      SLOG(kInfo) << "membership changed" << " group=" << g.id << " index=" << e.index
                  << " voters=" << g.conf_state.voters.size()
                  << " learners=" << g.conf_state.learners.size();
      if (!cc->context.empty()) {
        absl::StatusOr<DecodedProposal> p = DecodeProposal(cc->context);
        if (p.ok() && p->id.proposer == options_.self && p->id.incarnation == incarnation_) {
          applied_own_.emplace_back(p->id.sequence, e.index);
        }
      }
      continue;
    }
    if (e.data.empty()) continue;  // a new leader's empty entry
    absl::StatusOr<DecodedProposal> p = DecodeProposal(e.data);
    SLUICE_CHECK_MSG(p.ok(), "committed entry without a proposal envelope");
    sm_->Apply(g.id, e.index, p->payload);
    if (p->id.proposer == options_.self && p->id.incarnation == incarnation_) {
      applied_own_.emplace_back(p->id.sequence, e.index);
    }
  }
  if (entries.empty()) return;
  sm_->EndApplyBatch();
  for (const auto& [sequence, index] : applied_own_) Complete(sequence, index);
}

void MultiRaft::Complete(uint64_t sequence, absl::StatusOr<LogIndex> result) {
  auto it = pending_.find(sequence);
  if (it == pending_.end()) return;  // already failed (timeout, leadership lost)
  ProposeCallback done = std::move(it->second.done);
  pending_.erase(it);
  ++(result.ok() ? driver_stats_.proposals_completed : driver_stats_.proposals_failed);
  done(std::move(result));
}

void MultiRaft::FailGroupProposals(Group& g, const absl::Status& why, NodeId keep_sent_to) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.group != g.id ||
        (keep_sent_to != NodeId() && it->second.sent_to == keep_sent_to)) {
      ++it;
      continue;
    }
    ProposeCallback done = std::move(it->second.done);
    it = pending_.erase(it);
    ++driver_stats_.proposals_failed;
    done(why);
  }
}

void MultiRaft::MaybeSnapshot(Group& g) {
  if (options_.snapshot_interval_entries == 0) return;
  const LogIndex snap_index = g.log->snapshot_metadata().index;
  if (g.applied <= snap_index) return;
  if (!g.snapshot_due &&
      g.applied.value() < snap_index.value() + options_.snapshot_interval_entries) {
    // Between snapshots, compact when the state machine released entries (retention moved a
    // partition's start), so disk space follows retention without waiting for a snapshot.
    if (sm_->RetainedFrom(g.id) != g.retained_from) Compact(g);
    return;
  }
  g.snapshot_due = false;
  SLUICE_CHECK_OK(store_->CreateSnapshot(g.log, g.applied, g.conf_state, sm_->TakeSnapshot(g.id)));
  ++driver_stats_.snapshots_taken;
  Compact(g);
}

void MultiRaft::Compact(Group& g) {
  // Behind the snapshot by compaction_lag_entries (followers a little behind catch up from
  // the log), and never at or past what the state machine still reads.
  if (g.applied.value() <= options_.compaction_lag_entries) return;
  uint64_t to = std::min(g.applied.value() - options_.compaction_lag_entries,
                         g.log->snapshot_metadata().index.value());
  const LogIndex retained = sm_->RetainedFrom(g.id);
  g.retained_from = retained;
  if (retained.value() == 0) return;
  to = std::min(to, retained.value() - 1);
  const LogIndex compact_to(to);
  if (compact_to >= *g.log->FirstIndex()) {
    SLUICE_CHECK_OK(store_->Compact(g.log, compact_to));
    ++driver_stats_.compactions;
  }
}

}  // namespace sluice::multiraft
