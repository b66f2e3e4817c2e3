// Proves the generated messages and stubs compile and link against Debian's gRPC.
#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/raft.grpc.pb.h"

TEST(ProtoBuild, MessagesSerializeAndStubsLink) {
  sluice::admin::v1::Empty e;
  std::string bytes;
  ASSERT_TRUE(e.SerializeToString(&bytes));
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  auto stub = sluice::admin::v1::Admin::NewStub(channel);
  EXPECT_NE(stub, nullptr);
}
