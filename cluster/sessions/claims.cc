#include "cluster/sessions/claims.h"

#include <cstring>

namespace sluice::cluster {

namespace {

constexpr char kClaimTag = 'C';  // the first byte of every claim event; others may follow

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

std::string EncodeClaim(const Claim& c) {
  std::string out;
  out.reserve(17 + c.client_id.size());
  out.push_back(kClaimTag);
  PutU64(out, c.node.value());
  PutU64(out, c.token);
  out.append(c.client_id);
  return out;
}

absl::StatusOr<Claim> DecodeClaim(std::string_view bytes) {
  if (bytes.size() < 17 || bytes[0] != kClaimTag) {
    return absl::InvalidArgumentError("session claim: not a claim event");
  }
  Claim c;
  c.node = NodeId(GetU64(bytes.substr(1)));
  c.token = GetU64(bytes.substr(9));
  c.client_id = std::string(bytes.substr(17));
  return c;
}

bool ClaimTable::Begin(const std::string& client_id, uint64_t token) {
  if (waiting_.size() >= waiting_max_) return false;
  return waiting_.emplace(token, client_id).second;
}

void ClaimTable::Abandon(uint64_t token) { waiting_.erase(token); }

ClaimTable::Action ClaimTable::Apply(const Claim& c) {
  if (c.node == self_) {
    auto it = waiting_.find(c.token);
    if (it != waiting_.end() && it->second == c.client_id) {
      waiting_.erase(it);
      return Action::kAdmit;
    }
  }
  // Someone else's claim, or one of ours nobody waits for: it is the newest for its client
  // id, so whatever connection of it is live here is older.
  return Action::kTakeOver;
}

}  // namespace sluice::cluster
