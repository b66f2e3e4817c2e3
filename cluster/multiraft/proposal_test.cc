#include "cluster/multiraft/proposal.h"

#include "gtest/gtest.h"

namespace sluice::multiraft {
namespace {

TEST(Proposal, RoundTrips) {
  const ProposalId id{NodeId(3), 0xdeadbeefcafe, 42};
  const std::string bytes = EncodeProposal(id, std::string("pay\0load", 8));
  EXPECT_EQ(bytes.size(), kEnvelopeBytes + 8);
  auto d = DecodeProposal(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->id, id);
  EXPECT_EQ(d->payload, std::string_view("pay\0load", 8));
}

TEST(Proposal, RejectsForeignBytes) {
  EXPECT_FALSE(DecodeProposal("short").ok());
  EXPECT_FALSE(DecodeProposal(std::string(30, '\2')).ok());
}

}  // namespace
}  // namespace sluice::multiraft
