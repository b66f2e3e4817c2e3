// Issue 12: the retained store follows the log's apply order. The interleaving below is the
// one two publishers racing on a topic can produce: A (QoS 0) is retained at once and its
// append follows; B (QoS 1), published just after A on another shard, reaches the log first.
// The log applies B then A, so after a restart the topic's retained message is A — and it
// must be A before the restart too. (The former store ordered by a sequence taken on arrival,
// A before B, and kept B.)
#include "broker/server/retained_store.h"

#include <memory>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

MessagePtr Retained(std::string payload, int64_t offset) {
  auto m = std::make_shared<Message>();
  m->topic = "t";
  m->payload = std::move(payload);
  m->retain = true;
  m->offset = offset;
  return m;
}

std::string Current(const RetainedStore& store) {
  auto found = store.Match("t");
  return found.empty() ? "" : found[0]->payload;
}

TEST(RetainedStore, TheLogsApplyOrderHasTheLastWord) {
  RetainedStore store;
  store.SetNow(Retained("A", -1));  // QoS 0: visible at once, offset not known yet
  EXPECT_EQ(Current(store), "A");
  store.Applied(Retained("B", 5));  // B reached the log first
  store.Applied(Retained("A", 6));  // then A
  EXPECT_EQ(Current(store), "A") << "what the log replays after a restart";
}

TEST(RetainedStore, EmptyPayloadDeletesAndEraseReports) {
  RetainedStore store;
  store.Applied(Retained("x", 1));
  EXPECT_EQ(store.size(), 1u);
  store.Applied(Retained("", 2));
  EXPECT_EQ(store.size(), 0u);
  store.SetNow(Retained("y", -1));
  EXPECT_TRUE(store.Erase("t"));
  EXPECT_FALSE(store.Erase("t"));
  EXPECT_TRUE(store.All().empty());
}

}  // namespace
}  // namespace sluice::broker
