#include "cluster/raft/testing/network.h"

#include <deque>

#include "base/check.h"

namespace sluice::raft::testing {

Network::Network(int n, NetworkOptions options) : options_(options), rng_(options.seed) {
  ConfState cs;
  for (int i = 1; i <= n; ++i) cs.voters.push_back(NodeId(i));
  for (NodeId id : cs.voters) AddNode(id, cs);
}

Network::Network(std::vector<NodeId> voters, std::vector<NodeId> learners, NetworkOptions options)
    : options_(options), rng_(options.seed) {
  ConfState cs{voters, learners};
  for (NodeId id : voters) AddNode(id, cs);
  for (NodeId id : learners) AddNode(id, cs);
}

Config Network::MakeConfig(NodeId id, MemoryStorage* storage) {
  Config c;
  c.id = id;
  c.election_tick = options_.election_tick;
  c.heartbeat_tick = options_.heartbeat_tick;
  c.storage = storage;
  c.rng = &rng_;
  c.max_size_per_msg = options_.max_size_per_msg;
  c.max_inflight_msgs = options_.max_inflight_msgs;
  c.max_learner_lag_entries = options_.max_learner_lag_entries;
  c.pre_vote = options_.pre_vote;
  c.check_quorum = options_.check_quorum;
  return c;
}

void Network::AddNode(NodeId id, const ConfState& cs) {
  storage_[id] = std::make_unique<MemoryStorage>(cs);
  absl::StatusOr<std::unique_ptr<Raft>> r = Raft::Create(MakeConfig(id, storage_[id].get()));
  SLUICE_CHECK_OK(r.status());
  peers_[id] = *std::move(r);
}

void Network::AddEmptyNode(NodeId id) { AddNode(id, ConfState{}); }

void Network::RemoveNode(NodeId id) {
  peers_.erase(id);
  storage_.erase(id);
}

std::vector<Message> Network::Filter(std::vector<Message> msgs) {
  std::vector<Message> out;
  for (Message& m : msgs) {
    if (ignored_.count(m.type)) continue;
    auto it = drop_percent_.find({m.from, m.to});
    if (it != drop_percent_.end() && rng_.Uniform(100) < static_cast<uint64_t>(it->second)) {
      continue;
    }
    out.push_back(std::move(m));
  }
  return out;
}

void Network::Send(std::vector<Message> msgs) {
  std::deque<Message> queue(msgs.begin(), msgs.end());
  while (!queue.empty()) {
    Message m = std::move(queue.front());
    queue.pop_front();
    auto it = peers_.find(m.to);
    if (it == peers_.end()) continue;
    delivered_.push_back(m);
    (void)it->second->Step(std::move(m));
    for (Message& out : Filter(it->second->TakeMessages())) queue.push_back(std::move(out));
  }
}

void Network::Campaign(NodeId id) {
  Message m;
  m.type = MessageType::kHup;
  m.from = id;
  m.to = id;
  Send(std::move(m));
}

absl::Status Network::Propose(NodeId id, std::string data) {
  Message m;
  m.type = MessageType::kProp;
  m.from = id;
  m.to = id;
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kNormal, std::move(data)});
  absl::Status st = peer(id).Step(m);
  Send(Filter(peer(id).TakeMessages()));
  return st;
}

absl::Status Network::ProposeConfChange(NodeId id, const ConfChange& cc) {
  Message m;
  m.type = MessageType::kProp;
  m.from = id;
  m.to = id;
  m.entries.push_back(Entry{Term(0), LogIndex(0), EntryType::kConfChange, cc.Encode()});
  absl::Status st = peer(id).Step(m);
  Send(Filter(peer(id).TakeMessages()));
  return st;
}

void Network::Tick(NodeId id, int n) {
  for (int i = 0; i < n; ++i) {
    peer(id).Tick();
    Send(Filter(peer(id).TakeMessages()));
  }
}

void Network::Cut(NodeId a, NodeId b) {
  drop_percent_[{a, b}] = 100;
  drop_percent_[{b, a}] = 100;
}

void Network::Isolate(NodeId id) {
  for (const auto& [other, _] : peers_) {
    if (other != id) Cut(id, other);
  }
}

void Network::Drop(NodeId from, NodeId to, int percent) { drop_percent_[{from, to}] = percent; }

void Network::Recover() {
  drop_percent_.clear();
  ignored_.clear();
}

void Network::Persist(NodeId id) {
  Raft& r = peer(id);
  MemoryStorage& s = storage(id);
  if (r.log().HasPendingSnapshot()) {
    const Snapshot snap = *r.log().PendingSnapshot();
    SLUICE_CHECK_OK(s.ApplySnapshot(snap));
    r.mutable_log().StableSnapTo(snap.metadata.index);
    r.AppliedTo(snap.metadata.index, 0);
  }
  const std::vector<Entry> ents = r.log().UnstableEntries();
  if (!ents.empty()) {
    s.Append(ents);
    r.mutable_log().StableTo(ents.back().index, ents.back().term);
  }
  s.SetHardState(r.hard_state());
}

void Network::PersistAll() {
  for (const auto& [id, _] : peers_) Persist(id);
}

void Network::ApplyAll() {
  for (auto& [id, r] : peers_) {
    std::vector<Entry> ents = r->log().NextCommittedEntries();
    if (ents.empty()) continue;
    for (const Entry& e : ents) {
      if (e.type != EntryType::kConfChange) continue;
      absl::StatusOr<ConfChange> cc = ConfChange::Decode(e.data);
      SLUICE_CHECK_OK(cc.status());
      r->ApplyConfChange(*cc);
    }
    r->AppliedTo(ents.back().index, PayloadBytes(ents));
    Send(Filter(r->TakeMessages()));
  }
}

}  // namespace sluice::raft::testing
