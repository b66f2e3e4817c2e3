#include "cluster/multiraft/proposal.h"

namespace sluice::multiraft {
namespace {

void Put64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t Get64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

std::string EncodeProposal(const ProposalId& id, std::string_view payload) {
  std::string out;
  out.reserve(kEnvelopeBytes + payload.size());
  out.push_back(1);
  Put64(out, id.proposer.value());
  Put64(out, id.incarnation);
  Put64(out, id.sequence);
  out.append(payload);
  return out;
}

absl::StatusOr<DecodedProposal> DecodeProposal(std::string_view bytes) {
  if (bytes.size() < kEnvelopeBytes || bytes[0] != 1) {
    return absl::DataLossError("multiraft: entry is not a proposal envelope");
  }
  DecodedProposal d;
  d.id.proposer = NodeId(Get64(bytes.substr(1)));
  d.id.incarnation = Get64(bytes.substr(9));
  d.id.sequence = Get64(bytes.substr(17));
  d.payload = bytes.substr(kEnvelopeBytes);
  return d;
}

}  // namespace sluice::multiraft
