#include "cluster/transport/codec.h"

#include "gtest/gtest.h"

namespace sluice::transport {
namespace {

using raft::MessageType;

TEST(Codec, AppendRoundTrips) {
  raft::Message m;
  m.type = MessageType::kApp;
  m.to = NodeId(2);
  m.from = NodeId(1);
  m.term = sluice::Term(7);
  m.log_term = sluice::Term(6);
  m.index = LogIndex(41);
  m.commit = LogIndex(40);
  m.entries.push_back({sluice::Term(7), LogIndex(42), raft::EntryType::kNormal, "abc"});
  m.entries.push_back({sluice::Term(7), LogIndex(43), raft::EntryType::kConfChange,
                       std::string("\0\1", 2)});
  m.reject = true;
  m.reject_hint = LogIndex(3);
  m.context = "ctx";
  sluice::raft::v1::Message p;
  ToProto(GroupId(9), m, &p);
  std::string wire;
  ASSERT_TRUE(p.SerializeToString(&wire));
  sluice::raft::v1::Message q;
  ASSERT_TRUE(q.ParseFromString(wire));
  auto gm = FromProto(q);
  ASSERT_TRUE(gm.ok()) << gm.status();
  EXPECT_EQ(gm->group, GroupId(9));
  const raft::Message& r = gm->message;
  EXPECT_EQ(r.type, m.type);
  EXPECT_EQ(r.to, m.to);
  EXPECT_EQ(r.from, m.from);
  EXPECT_EQ(r.term, m.term);
  EXPECT_EQ(r.log_term, m.log_term);
  EXPECT_EQ(r.index, m.index);
  EXPECT_EQ(r.commit, m.commit);
  EXPECT_EQ(r.entries, m.entries);
  EXPECT_EQ(r.reject, m.reject);
  EXPECT_EQ(r.reject_hint, m.reject_hint);
  EXPECT_EQ(r.context, m.context);
  EXPECT_FALSE(r.snapshot.has_value());
}

TEST(Codec, SnapshotMetadataTravelsButNotTheImage) {
  raft::Message m;
  m.type = MessageType::kSnap;
  raft::Snapshot s;
  s.metadata = {LogIndex(100), sluice::Term(3), {{NodeId(1), NodeId(2)}, {NodeId(5)}}};
  s.data = "image";
  m.snapshot = s;
  sluice::raft::v1::Message p;
  ToProto(GroupId(1), m, &p);
  auto gm = FromProto(p);
  ASSERT_TRUE(gm.ok());
  ASSERT_TRUE(gm->message.snapshot.has_value());
  EXPECT_EQ(gm->message.snapshot->metadata, s.metadata);
  EXPECT_EQ(gm->message.snapshot->data, "");
}

TEST(Codec, RejectsLocalAndUnknownTypes) {
  sluice::raft::v1::Message p;
  p.set_type(static_cast<uint32_t>(MessageType::kHup));
  EXPECT_FALSE(FromProto(p).ok());
  p.set_type(250);
  EXPECT_FALSE(FromProto(p).ok());
  p.set_type(static_cast<uint32_t>(MessageType::kApp));
  p.add_entries()->set_type(9);
  EXPECT_FALSE(FromProto(p).ok());
}

}  // namespace
}  // namespace sluice::transport
