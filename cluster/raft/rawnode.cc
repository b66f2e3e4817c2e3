#include "cluster/raft/rawnode.h"

#include "base/check.h"
#include "base/status.h"

namespace sluice::raft {

RawNode::RawNode(std::unique_ptr<Raft> raft)
    : raft_(std::move(raft)),
      prev_soft_state_(raft_->soft_state()),
      prev_hard_state_(raft_->hard_state()) {}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<Raft> raft, Raft::Create(config));
  return std::unique_ptr<RawNode>(new RawNode(std::move(raft)));
}

void RawNode::Tick() { raft_->Tick(); }

absl::Status RawNode::Campaign() {
  Message m;
  m.type = MessageType::kHup;
  return raft_->Step(std::move(m));
}

absl::Status RawNode::Propose(std::string data) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(data)});
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeBatch(std::vector<std::string> data) {
  SLUICE_CHECK_MSG(!data.empty(), "an empty proposal batch");
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.reserve(data.size());
  for (std::string& d : data) {
    m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(d)});
  }
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const ConfChange& cc) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kConfChange, cc.Encode()});
  return raft_->Step(std::move(m));
}

ConfState RawNode::ApplyConfChange(const ConfChange& cc) { return raft_->ApplyConfChange(cc); }

absl::Status RawNode::Step(Message m) {
  if (IsLocalMessage(m.type)) {
    return absl::InvalidArgumentError("raft: cannot step a local message type");
  }
  if (IsResponseMessage(m.type) && raft_->tracker().Find(m.from) == nullptr) {
    return absl::NotFoundError("raft: response from a node not in the group");
  }
  return raft_->Step(std::move(m));
}

bool RawNode::HasReady() const {
  if (ready_outstanding_) return false;
  const Raft& r = *raft_;
  if (r.soft_state() != prev_soft_state_) return true;
  const HardState hs = r.hard_state();
  if (!hs.IsEmpty() && hs != prev_hard_state_) return true;
  if (r.log().HasPendingSnapshot()) return true;
  if (!r.messages().empty() || !r.log().UnstableEntries().empty() ||
      r.log().HasNextCommittedEntries() || !r.read_states().empty()) {
    return true;
  }
  return false;
}

Ready RawNode::GetReady() {
  SLUICE_CHECK_MSG(!ready_outstanding_, "GetReady called before Advance of the previous Ready");
  ready_outstanding_ = true;
  Raft& r = *raft_;
  Ready rd;
  rd.entries = r.log().UnstableEntries();
  rd.committed_entries = r.log().NextCommittedEntries();
  rd.messages = r.TakeMessages();
  rd.read_states = r.TakeReadStates();
  const SoftState ss = r.soft_state();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  const HardState hs = r.hard_state();
  if (hs != prev_hard_state_) {
    rd.must_sync = hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote;
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  if (r.log().HasPendingSnapshot()) rd.snapshot = *r.log().PendingSnapshot();
  rd.must_sync = rd.must_sync || !rd.entries.empty() || rd.snapshot.has_value();
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  SLUICE_CHECK_MSG(ready_outstanding_, "Advance without GetReady");
  ready_outstanding_ = false;
  Raft& r = *raft_;
  if (rd.snapshot) {
    r.mutable_log().StableSnapTo(rd.snapshot->metadata.index);
    r.AppliedTo(rd.snapshot->metadata.index, 0);
  }
  if (!rd.entries.empty()) {
    r.mutable_log().StableTo(rd.entries.back().index, rd.entries.back().term);
  }
  if (!rd.committed_entries.empty()) {
    r.AppliedTo(rd.committed_entries.back().index, PayloadBytes(rd.committed_entries));
  }
}

void RawNode::TransferLeader(NodeId transferee) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = transferee;
  (void)raft_->Step(std::move(m));
}

absl::Status RawNode::ReadIndex(std::string request_ctx) {
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = raft_->id();
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(request_ctx)});
  return raft_->Step(std::move(m));
}

void RawNode::ReportUnreachable(NodeId id) {
  Message m;
  m.type = MessageType::kUnreachable;
  m.from = id;
  (void)raft_->Step(std::move(m));
}

void RawNode::ReportSnapshot(NodeId id, SnapshotStatus status) {
  Message m;
  m.type = MessageType::kSnapStatus;
  m.from = id;
  m.reject = status == SnapshotStatus::kFailure;
  (void)raft_->Step(std::move(m));
}

}  // namespace sluice::raft
