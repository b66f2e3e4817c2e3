#include "cluster/raft/types.h"

#include <cstring>
#include <sstream>

namespace sluice::raft {

uint64_t PayloadBytes(const std::vector<Entry>& entries) {
  uint64_t total = 0;
  for (const Entry& e : entries) total += e.data.size();
  return total;
}

void LimitSize(std::vector<Entry>& entries, uint64_t max_bytes) {
  if (entries.empty()) return;
  uint64_t size = EntrySizeBytes(entries[0]);
  size_t keep = 1;
  for (; keep < entries.size(); ++keep) {
    size += EntrySizeBytes(entries[keep]);
    if (size > max_bytes) break;
  }
  entries.resize(keep);
}

// Layout: 1 byte type, 8 bytes node id (little endian), then context bytes.
std::string ConfChange::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(type));
  uint64_t id = node_id.value();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  out.append(context);
  return out;
}

absl::StatusOr<ConfChange> ConfChange::Decode(std::string_view bytes) {
  if (bytes.size() < 9) return absl::InvalidArgumentError("conf change: too short");
  uint8_t t = static_cast<uint8_t>(bytes[0]);
  if (t > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) {
    return absl::InvalidArgumentError("conf change: unknown type");
  }
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id |= uint64_t{static_cast<uint8_t>(bytes[1 + i])} << (8 * i);
  ConfChange cc;
  cc.type = static_cast<ConfChangeType>(t);
  cc.node_id = NodeId(id);
  cc.context = std::string(bytes.substr(9));
  return cc;
}

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHup: return "MsgHup";
    case MessageType::kBeat: return "MsgBeat";
    case MessageType::kProp: return "MsgProp";
    case MessageType::kCheckQuorum: return "MsgCheckQuorum";
    case MessageType::kUnreachable: return "MsgUnreachable";
    case MessageType::kSnapStatus: return "MsgSnapStatus";
    case MessageType::kApp: return "MsgApp";
    case MessageType::kAppResp: return "MsgAppResp";
    case MessageType::kVote: return "MsgVote";
    case MessageType::kVoteResp: return "MsgVoteResp";
    case MessageType::kPreVote: return "MsgPreVote";
    case MessageType::kPreVoteResp: return "MsgPreVoteResp";
    case MessageType::kHeartbeat: return "MsgHeartbeat";
    case MessageType::kHeartbeatResp: return "MsgHeartbeatResp";
    case MessageType::kSnap: return "MsgSnap";
    case MessageType::kTransferLeader: return "MsgTransferLeader";
    case MessageType::kTimeoutNow: return "MsgTimeoutNow";
    case MessageType::kReadIndex: return "MsgReadIndex";
    case MessageType::kReadIndexResp: return "MsgReadIndexResp";
  }
  return "MsgUnknown";
}

bool IsLocalMessage(MessageType type) {
  switch (type) {
    case MessageType::kHup:
    case MessageType::kBeat:
    case MessageType::kCheckQuorum:
    case MessageType::kUnreachable:
    case MessageType::kSnapStatus:
      return true;
    default:
      return false;
  }
}

bool IsResponseMessage(MessageType type) {
  switch (type) {
    case MessageType::kAppResp:
    case MessageType::kVoteResp:
    case MessageType::kPreVoteResp:
    case MessageType::kHeartbeatResp:
    case MessageType::kReadIndexResp:
    case MessageType::kUnreachable:
      return true;
    default:
      return false;
  }
}

MessageType VoteResponseType(MessageType type) {
  return type == MessageType::kPreVote ? MessageType::kPreVoteResp : MessageType::kVoteResp;
}

std::string_view StateTypeName(StateType state) {
  switch (state) {
    case StateType::kFollower: return "Follower";
    case StateType::kCandidate: return "Candidate";
    case StateType::kLeader: return "Leader";
    case StateType::kPreCandidate: return "PreCandidate";
  }
  return "Unknown";
}

std::string DescribeMessage(const Message& m) {
  std::ostringstream os;
  os << m.from << "->" << m.to << " " << MessageTypeName(m.type) << " term=" << m.term
     << " log_term=" << m.log_term << " index=" << m.index << " commit=" << m.commit
     << " entries=" << m.entries.size();
  if (m.reject) os << " reject hint=" << m.reject_hint;
  if (m.snapshot) os << " snap=" << m.snapshot->metadata.index << "@" << m.snapshot->metadata.term;
  return os.str();
}

}  // namespace sluice::raft
