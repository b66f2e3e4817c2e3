#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "mqtt/topic/levels.h"
#include "mqtt/topic/retained_trie.h"
#include "mqtt/topic/subscription_trie.h"
#include "mqtt/topic/topic.h"
#include "base/rng.h"
#include "base/testing/small_stack.h"
#include "gtest/gtest.h"

namespace sluice::topic {
namespace {

TEST(Topic, NamesAndFilters) {
  EXPECT_TRUE(IsValidTopicName("a/b"));
  EXPECT_TRUE(IsValidTopicName("/"));
  EXPECT_FALSE(IsValidTopicName(""));
  EXPECT_FALSE(IsValidTopicName("a/+"));
  EXPECT_FALSE(IsValidTopicName("a/#"));
  for (const char* ok : {"#", "+", "a/#", "+/+", "a/+/c", "/+", "+/", "sport/tennis/#"})
    EXPECT_TRUE(IsValidTopicFilter(ok)) << ok;
  for (const char* bad : {"", "a/#/b", "a#", "a+", "a/b+", "#/", "##"})
    EXPECT_FALSE(IsValidTopicFilter(bad)) << bad;
}

TEST(Topic, SharedFilters) {
  ParsedFilter p;
  ASSERT_TRUE(ParseFilter("$share/g1/a/+", &p));
  EXPECT_TRUE(p.shared);
  EXPECT_EQ(p.group, "g1");
  EXPECT_EQ(p.filter, "a/+");
  ASSERT_TRUE(ParseFilter("a/b", &p));
  EXPECT_FALSE(p.shared);
  EXPECT_FALSE(ParseFilter("$share/g1", &p));
  EXPECT_FALSE(ParseFilter("$share//a", &p));
  EXPECT_FALSE(ParseFilter("$share/g+/a", &p));
  EXPECT_FALSE(ParseFilter("$share/g/a/#/b", &p));
}

TEST(Topic, MatchesPerSpecExamples) {
  EXPECT_TRUE(Matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(Matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(Matches("sport/#", "sport"));
  EXPECT_TRUE(Matches("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_FALSE(Matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  EXPECT_FALSE(Matches("sport/+", "sport"));
  EXPECT_TRUE(Matches("sport/+", "sport/"));
  EXPECT_TRUE(Matches("+/+", "/finance"));
  EXPECT_TRUE(Matches("/+", "/finance"));
  EXPECT_FALSE(Matches("+", "/finance"));
  EXPECT_FALSE(Matches("#", "$SYS/x"));
  EXPECT_FALSE(Matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_TRUE(Matches("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(Matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(Matches("#", "a/b/c"));
  EXPECT_FALSE(Matches("a/b", "a/b/c"));
  EXPECT_FALSE(Matches("a/b/c", "a/b"));
}

std::set<std::string> MatchIds(SubscriptionTrie& trie, std::string_view name) {
  std::set<std::string> ids;
  trie.Match(
      name, [&](const SubscriberEntry& e) { ids.insert(e.client_id); },
      [&](std::vector<SubscriberEntry>& members, size_t& cursor) {
        ids.insert("group:" + members[cursor++ % members.size()].client_id);
      });
  return ids;
}

TEST(SubscriptionTrie, AddReplaceRemoveAndPrune) {
  SubscriptionTrie trie;
  EXPECT_TRUE(trie.Add("a/+", "", "c1", 0, {1}));
  EXPECT_FALSE(trie.Add("a/+", "", "c1", 0, {2}));
  EXPECT_TRUE(trie.Add("a/#", "", "c2", 1, {}));
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_EQ(MatchIds(trie, "a/b"), (std::set<std::string>{"c1", "c2"}));
  EXPECT_EQ(MatchIds(trie, "a"), (std::set<std::string>{"c2"}));
  EXPECT_TRUE(trie.Remove("a/+", "", "c1"));
  EXPECT_FALSE(trie.Remove("a/+", "", "c1"));
  EXPECT_EQ(MatchIds(trie, "a/b"), (std::set<std::string>{"c2"}));
  EXPECT_TRUE(trie.Remove("a/#", "", "c2"));
  EXPECT_EQ(trie.size(), 0u);
  EXPECT_TRUE(MatchIds(trie, "a/b").empty());
}

TEST(SubscriptionTrie, SharedGroupsRoundRobin) {
  SubscriptionTrie trie;
  trie.Add("t/#", "g", "m1", 0, {});
  trie.Add("t/#", "g", "m2", 0, {});
  trie.Add("t/#", "", "plain", 0, {});
  std::map<std::string, int> got;
  for (int i = 0; i < 10; ++i)
    for (const auto& id : MatchIds(trie, "t/x")) got[id]++;
  EXPECT_EQ(got["plain"], 10);
  EXPECT_EQ(got["group:m1"], 5);
  EXPECT_EQ(got["group:m2"], 5);
  EXPECT_TRUE(trie.Remove("t/#", "g", "m1"));
  EXPECT_EQ(MatchIds(trie, "t/x"), (std::set<std::string>{"plain", "group:m2"}));
}

// The trie must agree with the one-filter matcher on random filters and names.
TEST(SubscriptionTrie, AgreesWithMatchesOnRandomInput) {
  SeededRng rng(1234);
  const char* levels[] = {"a", "b", "$SYS", "", "c"};
  auto random_name = [&]() {
    std::string s;
    int n = 1 + rng.Uniform(4);
    for (int i = 0; i < n; ++i) {
      if (i) s += '/';
      s += levels[rng.Uniform(5)];
    }
    return s.empty() ? std::string("a") : s;
  };
  auto random_filter = [&]() {
    std::string s;
    int n = 1 + rng.Uniform(4);
    for (int i = 0; i < n; ++i) {
      if (i) s += '/';
      uint64_t r = rng.Uniform(8);
      if (r == 0 && i == n - 1) s += '#';
      else if (r < 3) s += '+';
      else s += levels[rng.Uniform(5)];
    }
    return s.empty() ? std::string("a") : s;
  };
  SubscriptionTrie trie;
  std::vector<std::string> filters;
  for (int i = 0; i < 200; ++i) {
    filters.push_back(random_filter());
    ASSERT_TRUE(IsValidTopicFilter(filters.back())) << filters.back();
    trie.Add(filters.back(), "", "c" + std::to_string(i), 0, {});
  }
  RetainedTrie<int> retained;
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) {
    names.push_back(random_name());
    retained.Set(names.back(), i);
  }
  for (const auto& name : names) {
    std::set<std::string> want;
    for (int i = 0; i < 200; ++i)
      if (Matches(filters[i], name)) want.insert("c" + std::to_string(i));
    EXPECT_EQ(MatchIds(trie, name), want) << name;
  }
  for (const auto& filter : filters) {
    std::set<std::string> want, got;
    for (const auto& name : names)
      if (Matches(filter, name)) want.insert(name);
    retained.Match(filter, [&](std::string_view n, int) { EXPECT_TRUE(got.insert(std::string(n)).second) << n; });
    EXPECT_EQ(got, want) << filter;
  }
}

TEST(RetainedTrie, ForEachNamesEveryTopic) {
  RetainedTrie<int> r;
  const std::set<std::string> names = {"a", "a/b", "/", "/a", "a//b", "$SYS/x", "", "b/"};
  int i = 0;
  for (const auto& n : names) r.Set(n, i++);
  std::set<std::string> got;
  r.ForEach([&](std::string_view n, int) { EXPECT_TRUE(got.insert(std::string(n)).second) << n; });
  EXPECT_EQ(got, names);
}

// Issue 19: a client chooses how deep topics and filters are (a 64 KiB topic has up to
// 32,768 levels). Every operation on a trie that deep must run on a 256 KiB stack, so none of
// them recurses per level; with recursion each of these crashed (SIGSEGV) even on 8 MiB.
std::string DeepTopic(size_t levels, std::string_view level = "") {
  std::string t(level);
  for (size_t i = 1; i < levels; ++i) {
    t += '/';
    t += level;
  }
  return t;
}

TEST(DeepTopics, SubscriptionTrieOnASmallStack) {
  const std::string deep = DeepTopic(65'001);  // SUBSCRIBE "/" x 65,000
  testing::RunOnSmallStack(testing::kSmallStackBytes, [&] {
    SubscriptionTrie trie;
    EXPECT_TRUE(trie.Add(deep, "", "c1", 0, {1}));
    EXPECT_TRUE(trie.Add(deep, "g", "c2", 0, {1}));
    EXPECT_TRUE(trie.Add(DeepTopic(65'000) + "/+", "", "c3", 0, {1}));
    EXPECT_TRUE(trie.Add(DeepTopic(32'000) + "/#", "", "c4", 0, {1}));
    EXPECT_EQ(MatchIds(trie, deep),
              (std::set<std::string>{"c1", "group:c2", "c3", "c4"}));
    EXPECT_EQ(MatchIds(trie, DeepTopic(40'000)), (std::set<std::string>{"c4"}));
    EXPECT_TRUE(trie.Remove(deep, "", "c1"));
    EXPECT_EQ(MatchIds(trie, deep), (std::set<std::string>{"group:c2", "c3", "c4"}));
    // Destroyed here with its deep branches still in it.
  });
}

TEST(DeepTopics, RetainedTrieOnASmallStack) {
  const std::string deep = DeepTopic(32'768, "");
  const std::string deep_a = DeepTopic(30'000, "a");
  testing::RunOnSmallStack(testing::kSmallStackBytes, [&] {
    RetainedTrie<int> r;
    r.Set(deep, 1);
    r.Set(deep, 2);  // replace: the second retained PUBLISH of the report
    r.Set(deep_a, 3);
    std::vector<std::pair<std::string, int>> got;
    auto collect = [&](std::string_view n, int v) { got.emplace_back(std::string(n), v); };
    r.Match(deep, collect);  // exact SUBSCRIBE
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, deep);
    EXPECT_EQ(got[0].second, 2);
    got.clear();
    r.Match("#", collect);
    EXPECT_EQ(got.size(), 2u);
    got.clear();
    r.Match(DeepTopic(29'999, "a") + "/+", collect);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, deep_a);
    got.clear();
    r.Match(DeepTopic(20'000, "+") + "/#", collect);
    EXPECT_EQ(got.size(), 2u);
    got.clear();
    r.ForEach(collect);
    EXPECT_EQ(got.size(), 2u);
    EXPECT_TRUE(r.Erase(deep));  // empty retained PUBLISH: delete
    EXPECT_FALSE(r.Erase(deep));
    EXPECT_EQ(r.size(), 1u);
  });
}

TEST(RetainedTrie, SetEraseAndPrune) {
  RetainedTrie<std::string> r;
  r.Set("a/b", "1");
  r.Set("a", "0");
  r.Set("$SYS/x", "s");
  EXPECT_EQ(r.size(), 3u);
  std::set<std::string> got;
  r.Match("#", [&](std::string_view n, const std::string&) { got.insert(std::string(n)); });
  EXPECT_EQ(got, (std::set<std::string>{"a", "a/b"}));
  got.clear();
  r.Match("a/#", [&](std::string_view n, const std::string&) { got.insert(std::string(n)); });
  EXPECT_EQ(got, (std::set<std::string>{"a", "a/b"}));
  EXPECT_TRUE(r.Erase("a/b"));
  EXPECT_FALSE(r.Erase("a/b"));
  EXPECT_FALSE(r.Erase("zz"));
  EXPECT_EQ(r.size(), 2u);
}

}  // namespace
}  // namespace sluice::topic

namespace sluice::topic {
namespace {

TEST(LevelsTest, LevelFromWalksByPosition) {
  size_t next = 0;
  EXPECT_EQ(LevelFrom("a//b", 0, &next), "a");
  EXPECT_EQ(next, 2u);
  EXPECT_EQ(LevelFrom("a//b", next, &next), "");
  EXPECT_EQ(next, 3u);
  EXPECT_EQ(LevelFrom("a//b", next, &next), "b");
  EXPECT_EQ(next, std::string_view::npos);
  EXPECT_EQ(LevelFrom("a/", 2, &next), "");
  EXPECT_EQ(next, std::string_view::npos);
}

TEST(LevelsTest, FirstLevels) {
  EXPECT_EQ(FirstLevels("a/b/c", 1), "a");
  EXPECT_EQ(FirstLevels("a/b/c", 2), "a/b");
  EXPECT_EQ(FirstLevels("a/b/c", 3), "a/b/c");
  EXPECT_EQ(FirstLevels("a/b/c", 9), "a/b/c");
  EXPECT_EQ(FirstLevels("a/", 1), "a");
  EXPECT_EQ(FirstLevels("/x", 1), "");
  EXPECT_EQ(FirstLevels("", 1), "");
}

}  // namespace
}  // namespace sluice::topic
