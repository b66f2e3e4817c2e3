// Running out of file descriptors: the broker refuses what it cannot serve (the client sees
// its connection closed at once, not a hang), counts it, and keeps serving; once descriptors
// are free again, new clients connect.
#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

TEST(ResourcesTest, OutOfDescriptorsRefusesPromptlyAndRecovers) {
  if (UnderMosquitto()) GTEST_SKIP() << "Sluice's accept behaviour";
  std::string error;
  bool unsupported = false;
  // 64 descriptors: the broker's own files, listeners and a few dozen clients.
  auto broker = BrokerProcess::Start({"--threads=1", "--admin-listen=", "--metrics-listen="},
                                     &error, &unsupported, {"/usr/bin/prlimit", "--nofile=64"});
  ASSERT_NE(broker, nullptr) << error;
  std::vector<std::unique_ptr<RawClient>> clients;
  int accepted = 0, refused = 0;
  for (int i = 0; i < 100; ++i) {
    auto c = RawClient::Open(broker->port(), kV311);
    c->Send(Connect({.version = kV311, .client_id = "fd" + std::to_string(i)}));
    Bytes reply = c->Read(3000ms);
    if (!reply.empty()) {
      ASSERT_EQ(Hex(reply), "20 02 00 00");
      ++accepted;
      clients.push_back(std::move(c));
    } else {
      // No CONNACK: the connection must have been closed, not left hanging.
      ASSERT_TRUE(c->closed()) << "client " << i << " got neither CONNACK nor a close";
      ++refused;
    }
  }
  EXPECT_GT(accepted, 10);
  EXPECT_GT(refused, 0) << "64 descriptors cannot hold 100 clients";
  // An accepted client is still served while the broker is at its limit.
  clients.front()->Send(Pingreq());
  EXPECT_EQ(Hex(clients.front()->Read()), "D0 00");
  clients.clear();  // descriptors come back
  std::unique_ptr<RawClient> late;
  for (int attempt = 0; attempt < 50 && !late; ++attempt) {
    auto c = RawClient::Open(broker->port(), kV311);
    c->Send(Connect({.version = kV311, .client_id = "late"}));
    if (Hex(c->Read(2000ms)) == "20 02 00 00") late = std::move(c);
  }
  ASSERT_NE(late, nullptr) << "the broker did not recover once descriptors were free";
  EXPECT_EQ(broker->Exited(), std::nullopt) << "the broker must survive";
}

}  // namespace
}  // namespace sluice::conformance
