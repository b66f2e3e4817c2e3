// The router's matching rules without sockets or threads: one delivery per session with
// overlapping subscriptions aggregated, no-local, $share picks, per-shard batches.
#include "broker/server/router.h"

#include <map>
#include <memory>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

class Recorder : public Router::Target {
 public:
  void Deliver(std::string_view client_id, Delivery d) override {
    local[std::string(client_id)].push_back(std::move(d));
  }
  void Post(uint32_t shard, Router::Batch batch) override { posted[shard].push_back(std::move(batch)); }
  std::map<std::string, std::vector<Delivery>> local;
  std::map<uint32_t, std::vector<Router::Batch>> posted;
};

MessagePtr Msg(std::string topic, uint8_t qos, std::string publisher = "p", bool retain = false) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->qos = qos;
  m->publisher = std::move(publisher);
  m->retain = retain;
  return m;
}

TEST(Router, OverlappingSubscriptionsGiveOneDeliveryAtTheHighestQos) {
  Recorder target;
  SeededRng rng(1);
  Router r(0, 2, &target, &rng);
  r.trie().Add("a/+", "", "c", 0, {.qos = 0, .subscription_id = 7});
  r.trie().Add("a/#", "", "c", 0, {.qos = 1, .retain_as_published = true, .subscription_id = 3});
  r.trie().Add("a/b", "", "remote", 1, {.qos = 2});
  EXPECT_EQ(r.Route(Msg("a/b", 2, "p", true), false), 2u);
  ASSERT_EQ(target.local["c"].size(), 1u);
  const Delivery& d = target.local["c"][0];
  EXPECT_EQ(d.qos, 1);
  EXPECT_TRUE(d.retain);
  EXPECT_EQ(d.subscription_ids, (std::vector<uint32_t>{3, 7}));
  ASSERT_EQ(target.posted[1].size(), 1u) << "one batch per shard";
  EXPECT_EQ(target.posted[1][0][0].first, "remote");
  EXPECT_EQ(target.posted[1][0][0].second.qos, 2);
}

TEST(Router, NoLocalAndSharedGroups) {
  Recorder target;
  SeededRng rng(1);
  Router r(0, 1, &target, &rng);
  r.trie().Add("t", "", "self", 0, {.qos = 1, .no_local = true});
  r.trie().Add("t", "g", "m1", 0, {.qos = 1});
  r.trie().Add("t", "g", "m2", 0, {.qos = 1});
  for (int i = 0; i < 4; ++i) r.Route(Msg("t", 1, "self"), false);
  EXPECT_TRUE(target.local["self"].empty()) << "no-local";
  EXPECT_EQ(target.local["m1"].size(), 2u) << "round robin";
  EXPECT_EQ(target.local["m2"].size(), 2u);
  EXPECT_TRUE(target.local["m1"][0].shared);
}

}  // namespace
}  // namespace sluice::broker
