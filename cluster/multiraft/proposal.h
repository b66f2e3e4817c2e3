// The envelope around every proposal in the log, so that the node that proposed it recognises
// it when it is applied and can complete the caller's future:
//   version(1) = 1 | proposer node id (8, BE) | proposer incarnation (8, BE) | sequence (8, BE) |
//   payload
// The incarnation is random per process start, so sequence numbers of an earlier run replayed
// from the log never complete a new run's proposals. Conf changes carry the envelope (with an
// empty payload) in ConfChange::context. An empty entry (a new leader's no-op) has no envelope.
// Pure functions; thread-safe.
#ifndef SLUICE_CLUSTER_MULTIRAFT_PROPOSAL_H_
#define SLUICE_CLUSTER_MULTIRAFT_PROPOSAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/ids.h"

namespace sluice::multiraft {

inline constexpr size_t kEnvelopeBytes = 25;

struct ProposalId {
  NodeId proposer;
  uint64_t incarnation = 0;
  uint64_t sequence = 0;
  friend bool operator==(const ProposalId&, const ProposalId&) = default;
};

std::string EncodeProposal(const ProposalId& id, std::string_view payload);

struct DecodedProposal {
  ProposalId id;
  std::string_view payload;  // points into the decoded bytes
};
// DataLoss on bytes that are not an envelope.
absl::StatusOr<DecodedProposal> DecodeProposal(std::string_view bytes);

}  // namespace sluice::multiraft

#endif  // SLUICE_CLUSTER_MULTIRAFT_PROPOSAL_H_
