#include "cluster/transport/codec.h"

#include "base/strings.h"

namespace sluice::transport {

namespace pb = sluice::raft::v1;

namespace {

void ConfToProto(const raft::ConfState& cs, pb::ConfState* out) {
  for (NodeId id : cs.voters) out->add_voters(id.value());
  for (NodeId id : cs.learners) out->add_learners(id.value());
}

raft::ConfState ConfFromProto(const pb::ConfState& in) {
  raft::ConfState cs;
  for (uint64_t id : in.voters()) cs.voters.push_back(NodeId(id));
  for (uint64_t id : in.learners()) cs.learners.push_back(NodeId(id));
  return cs;
}

}  // namespace

void ToProto(GroupId group, const raft::Message& m, pb::Message* out) {
  out->set_group(group.value());
  out->set_type(static_cast<uint32_t>(m.type));
  out->set_to(m.to.value());
  out->set_from(m.from.value());
  out->set_term(m.term.value());
  out->set_log_term(m.log_term.value());
  out->set_index(m.index.value());
  out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (const raft::Entry& e : m.entries) {
    pb::Entry* pe = out->add_entries();
    pe->set_term(e.term.value());
    pe->set_index(e.index.value());
    pe->set_type(static_cast<uint32_t>(e.type));
    pe->set_data(e.data);
  }
  out->set_commit(m.commit.value());
  if (m.snapshot) {
    pb::SnapshotMetadata* sm = out->mutable_snapshot();
    sm->set_index(m.snapshot->metadata.index.value());
    sm->set_term(m.snapshot->metadata.term.value());
    ConfToProto(m.snapshot->metadata.conf_state, sm->mutable_conf_state());
  }
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint.value());
  out->set_context(m.context);
}

absl::StatusOr<GroupMessage> FromProto(const pb::Message& in) {
  if (in.type() > static_cast<uint32_t>(raft::MessageType::kReadIndexResp)) {
    return absl::InvalidArgumentError("raft transport: unknown message type");
  }
  GroupMessage gm;
  gm.group = GroupId(in.group());
  raft::Message& m = gm.message;
  m.type = static_cast<raft::MessageType>(in.type());
  if (raft::IsLocalMessage(m.type)) {
    return absl::InvalidArgumentError("raft transport: local message type on the wire");
  }
  m.to = NodeId(in.to());
  m.from = NodeId(in.from());
  m.term = sluice::Term(in.term());
  m.log_term = sluice::Term(in.log_term());
  m.index = LogIndex(in.index());
  m.entries.reserve(in.entries_size());
  for (const pb::Entry& pe : in.entries()) {
    if (pe.type() > static_cast<uint32_t>(raft::EntryType::kConfChange)) {
      return absl::InvalidArgumentError("raft transport: unknown entry type");
    }
    m.entries.push_back(raft::Entry{sluice::Term(pe.term()), LogIndex(pe.index()),
                                    static_cast<raft::EntryType>(pe.type()), pe.data()});
  }
  m.commit = LogIndex(in.commit());
  if (in.has_snapshot()) {
    raft::Snapshot s;
    s.metadata.index = LogIndex(in.snapshot().index());
    s.metadata.term = sluice::Term(in.snapshot().term());
    s.metadata.conf_state = ConfFromProto(in.snapshot().conf_state());
    m.snapshot = std::move(s);
  }
  m.reject = in.reject();
  m.reject_hint = LogIndex(in.reject_hint());
  m.context = in.context();
  return gm;
}

}  // namespace sluice::transport
