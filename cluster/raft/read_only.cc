#include "cluster/raft/read_only.h"

#include <algorithm>

namespace sluice::raft {

void ReadOnly::AddRequest(LogIndex index, Message request) {
  std::string ctx = request.entries.empty() ? std::string() : request.entries[0].data;
  if (pending_.count(ctx)) return;
  queue_.push_back(ctx);
  pending_.emplace(std::move(ctx), Status{std::move(request), index, {}});
}

const std::map<NodeId, bool>* ReadOnly::RecvAck(NodeId id, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadOnly::Status> ReadOnly::Advance(const std::string& ctx) {
  std::vector<Status> out;
  auto pos = std::find(queue_.begin(), queue_.end(), ctx);
  if (pos == queue_.end()) return out;
  // Heartbeats are answered in order, so an ack for ctx also confirms every earlier request.
  for (auto it = queue_.begin(); it != std::next(pos); ++it) {
    auto p = pending_.find(*it);
    out.push_back(std::move(p->second));
    pending_.erase(p);
  }
  queue_.erase(queue_.begin(), std::next(pos));
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace sluice::raft
