// The indexed ACL (FilterIndex tries inside ClientAcl) against the linear definition:
// random differential checks, then the documented priorities, wildcards and '$' rules.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/rng.h"
#include "base/testing/small_stack.h"
#include "broker/auth/acl.h"
#include "broker/auth/filter_index.h"
#include "mqtt/topic/topic.h"

namespace sluice::auth {
namespace {


// A small alphabet so that random filters and topics collide often.
const char* const kLiterals[] = {"a", "b", "$s", ""};

std::string RandomTopic(SeededRng& rng) {
  size_t levels = 1 + rng.Uniform(4);
  std::string out;
  for (size_t i = 0; i < levels; ++i) {
    if (i) out += '/';
    out += kLiterals[rng.Uniform(4)];
  }
  return out.empty() ? "a" : out;  // an empty topic name is invalid
}

std::string RandomFilter(SeededRng& rng) {
  size_t levels = 1 + rng.Uniform(4);
  std::string out;
  for (size_t i = 0; i < levels; ++i) {
    if (i) out += '/';
    size_t pick = rng.Uniform(7);
    if (pick == 6 && i + 1 == levels) {
      out += '#';
    } else if (pick >= 4) {
      out += '+';
    } else {
      out += kLiterals[pick];
    }
  }
  return out.empty() ? "b" : out;  // an empty filter is invalid
}

TEST(FilterIndex, AgreesWithPairwiseFunctionsOnRandomSets) {
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    SeededRng rng(seed);
    std::vector<std::string> filters(rng.Uniform(6));
    FilterIndex index;
    for (auto& f : filters) {
      f = RandomFilter(rng);
      ASSERT_TRUE(topic::IsValidTopicFilter(f)) << f;
      index.Add(f);
    }
    for (int q = 0; q < 60; ++q) {
      std::string t = RandomTopic(rng);
      bool want = std::any_of(filters.begin(), filters.end(),
                              [&](const std::string& f) { return topic::Matches(f, t); });
      ASSERT_EQ(index.AnyMatches(t), want) << "seed " << seed << " topic " << t;
      std::string g = RandomFilter(rng);
      want = std::any_of(filters.begin(), filters.end(),
                         [&](const std::string& f) { return FilterCovers(f, g); });
      ASSERT_EQ(index.AnyCovers(g), want) << "seed " << seed << " covers " << g;
      want = std::any_of(filters.begin(), filters.end(),
                         [&](const std::string& f) { return FiltersOverlap(f, g); });
      ASSERT_EQ(index.AnyOverlaps(g), want) << "seed " << seed << " overlaps " << g;
    }
  }
}

// Issue 19: depth is client-controlled (topics; filters after substitution), so no walk may
// recurse per level: everything here runs on a 256 KiB stack.
TEST(FilterIndex, DeepFiltersAndTopicsOnASmallStack) {
  auto deep = [](size_t levels, const std::string& level) {
    std::string t = level;
    for (size_t i = 1; i < levels; ++i) t += "/" + level;
    return t;
  };
  const std::string topic = deep(40'000, "a");
  testing::RunOnSmallStack(testing::kSmallStackBytes, [&] {
    FilterIndex index;
    index.Add(deep(39'999, "a") + "/b");
    index.Add(deep(39'999, "+") + "/c");
    index.Add(deep(20'000, "a") + "/+/" + deep(19'998, "a") + "/#");
    EXPECT_TRUE(index.AnyMatches(topic));        // the '#' filter
    EXPECT_FALSE(index.AnyMatches(deep(40'001, "b")));
    EXPECT_TRUE(index.AnyCovers(topic));
    EXPECT_TRUE(index.AnyOverlaps(deep(39'999, "+") + "/c"));
    EXPECT_TRUE(index.AnyOverlaps(deep(30'000, "+") + "/#"));
    EXPECT_FALSE(index.AnyOverlaps(deep(40'000, "x")));
    FilterIndex moved = std::move(index);
    EXPECT_TRUE(moved.AnyMatches(topic));
    moved = FilterIndex();  // the deep tree is destroyed by the assignment
    EXPECT_FALSE(moved.AnyMatches(topic));
  });
}

TEST(FilterIndex, EmptyAndDuplicates) {
  FilterIndex index;
  EXPECT_FALSE(index.AnyMatches("a"));
  EXPECT_FALSE(index.AnyCovers("a"));
  EXPECT_FALSE(index.AnyOverlaps("#"));
  index.Add("a/+");
  index.Add("a/+");
  EXPECT_EQ(index.size(), 1u);
  index.Add("a");
  EXPECT_EQ(index.size(), 2u);
}

TEST(FilterIndex, WildcardsAndDollarTopics) {
  FilterIndex index;
  index.Add("#");
  EXPECT_TRUE(index.AnyMatches("a/b"));
  EXPECT_FALSE(index.AnyMatches("$SYS/broker/uptime")) << "MQTT 4.7.2";
  EXPECT_FALSE(index.AnyCovers("$SYS/#"));
  EXPECT_FALSE(index.AnyOverlaps("$SYS/#"));
  index.Add("+/x");
  EXPECT_FALSE(index.AnyMatches("$SYS/x"));
  index.Add("$SYS/+/uptime");
  EXPECT_TRUE(index.AnyMatches("$SYS/broker/uptime"));
  EXPECT_FALSE(index.AnyMatches("$SYS/broker/load"));
  EXPECT_TRUE(index.AnyCovers("$SYS/b/uptime"));
  EXPECT_FALSE(index.AnyCovers("$SYS/#"));
  EXPECT_TRUE(index.AnyOverlaps("$SYS/#"));
  // '$' only matters at the first level.
  EXPECT_TRUE(index.AnyMatches("a/$x"));

  FilterIndex parent;
  parent.Add("a/#");
  EXPECT_TRUE(parent.AnyMatches("a")) << "'#' matches the parent level";
  EXPECT_TRUE(parent.AnyCovers("a"));
  EXPECT_TRUE(parent.AnyCovers("a/+/c"));
  EXPECT_FALSE(parent.AnyCovers("+/b"));
  EXPECT_TRUE(parent.AnyOverlaps("+/b"));
  EXPECT_TRUE(parent.AnyOverlaps("#"));

  FilterIndex plus;
  plus.Add("a/+");
  EXPECT_TRUE(plus.AnyMatches("a/"));
  EXPECT_FALSE(plus.AnyMatches("a"));
  EXPECT_FALSE(plus.AnyMatches("a/b/c"));
  EXPECT_TRUE(plus.AnyCovers("a/+"));
  EXPECT_FALSE(plus.AnyCovers("a/#"));
  EXPECT_TRUE(plus.AnyOverlaps("a/#"));
  EXPECT_TRUE(plus.AnyOverlaps("+/b"));
  EXPECT_FALSE(plus.AnyOverlaps("a"));
}

// A ClientAcl checked both ways must answer the same.
void ExpectSameBothWays(ClientAcl acl, const std::vector<std::string>& topics,
                        const std::vector<std::string>& filters) {
  ClientAcl linear = acl;
  linear.Decompile();
  acl.Compile();
  ASSERT_TRUE(acl.indexed());
  ASSERT_FALSE(linear.indexed());
  for (const auto& t : topics) EXPECT_EQ(acl.CanPublish(t), linear.CanPublish(t)) << t;
  for (const auto& f : filters) EXPECT_EQ(acl.CanSubscribe(f), linear.CanSubscribe(f)) << f;
}

TEST(ClientAclIndex, AgreesWithLinearScanOnRandomRuleSets) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SeededRng rng(seed * 7919);
    ClientAcl acl;
    acl.default_allow = rng.Uniform(2) == 1;
    for (auto* list : {&acl.allow_publish, &acl.deny_publish, &acl.allow_subscribe,
                       &acl.deny_subscribe})
      for (size_t n = rng.Uniform(4); n > 0; --n) list->push_back(RandomFilter(rng));
    std::vector<std::string> topics, filters;
    for (int q = 0; q < 40; ++q) {
      topics.push_back(RandomTopic(rng));
      filters.push_back(RandomFilter(rng));
    }
    SCOPED_TRACE("seed " + std::to_string(seed));
    ExpectSameBothWays(acl, topics, filters);
  }
}

constexpr char kRules[] = R"(
default: deny
rules:
  - user: "*"
    allow_publish: ["users/%u/#", "public/+"]
    allow_subscribe: ["users/%u/#", "public/#", "$SYS/broker/+"]
  - user: alice
    deny_publish: ["users/alice/locked/#", "public/secret"]
    deny_subscribe: ["public/secret/#"]
  - client_id: "*"
    allow_publish: ["clients/%c"]
  - user: alice
    allow_publish: ["users/alice/locked/override"]
)";

TEST(ClientAclIndex, DenyBeatsAllowWhateverTheRuleOrder) {
  auto acl = Acl::Parse(kRules);
  ASSERT_TRUE(acl.ok()) << acl.status();
  auto alice = acl->ForClient("alice", "phone", "");
  ASSERT_TRUE(alice->indexed()) << "ForClient compiles the index";
  EXPECT_TRUE(alice->CanPublish("users/alice/a/b"));
  EXPECT_FALSE(alice->CanPublish("users/alice/locked")) << "'#' matches the parent level";
  EXPECT_FALSE(alice->CanPublish("users/alice/locked/x"));
  EXPECT_FALSE(alice->CanPublish("users/alice/locked/override"))
      << "a later, more specific allow does not beat a deny";
  EXPECT_TRUE(alice->CanPublish("public/news"));
  EXPECT_FALSE(alice->CanPublish("public/secret"));
  EXPECT_TRUE(alice->CanPublish("clients/phone"));
  EXPECT_FALSE(alice->CanPublish("clients/other"));
  EXPECT_TRUE(alice->CanSubscribe("public/news/+"));
  EXPECT_FALSE(alice->CanSubscribe("public/#")) << "overlaps the denied public/secret/#";
  EXPECT_FALSE(alice->CanSubscribe("public/+/x")) << "overlaps public/secret/x";
  EXPECT_TRUE(alice->CanSubscribe("$SYS/broker/uptime"));
  EXPECT_FALSE(alice->CanSubscribe("$SYS/#"));
  auto bob = acl->ForClient("bob", "laptop", "");
  EXPECT_TRUE(bob->CanPublish("public/secret")) << "alice's deny is not bob's";
  EXPECT_TRUE(bob->CanSubscribe("public/#"));
  EXPECT_FALSE(bob->CanPublish("users/alice/x"));
}

TEST(ClientAclIndex, RuleAndFilterOrderDoNotMatter) {
  // The same rules in every rotation, and each rule's filters reversed: same decisions.
  std::vector<std::string> rules = {
      "  - user: \"*\"\n    allow_publish: [\"a/#\", \"b/+\"]\n    deny_subscribe: [\"a/s/#\"]\n",
      "  - user: u\n    deny_publish: [\"a/x\", \"b/y\"]\n    allow_subscribe: [\"#\"]\n",
      "  - client_id: c\n    allow_publish: [\"a/x\"]\n    allow_subscribe: [\"a/s/+\"]\n",
  };
  const std::vector<std::string> topics = {"a", "a/x", "a/y", "b/x", "b/y", "c", "$a/x"};
  const std::vector<std::string> filters = {"#", "a/#", "a/s/t", "a/+", "b/+", "$SYS/#"};
  std::string reference;
  for (size_t rot = 0; rot < rules.size(); ++rot) {
    for (bool reverse : {false, true}) {
      std::string text = "rules:\n";
      for (size_t i = 0; i < rules.size(); ++i) {
        std::string r = rules[(i + rot) % rules.size()];
        if (reverse) {  // swap the two filters of each list
          for (const char* pair : {"\"a/#\", \"b/+\"", "\"a/x\", \"b/y\""}) {
            size_t at = r.find(pair);
            if (at == std::string::npos) continue;
            std::string p(pair);
            size_t comma = p.find(", ");
            r.replace(at, p.size(), p.substr(comma + 2) + ", " + p.substr(0, comma));
          }
        }
        text += r;
      }
      auto acl = Acl::Parse(text);
      ASSERT_TRUE(acl.ok()) << acl.status() << text;
      auto client = acl->ForClient("u", "c", "");
      std::string decisions;
      for (const auto& t : topics) decisions += client->CanPublish(t) ? 'P' : 'p';
      for (const auto& f : filters) decisions += client->CanSubscribe(f) ? 'S' : 's';
      if (reference.empty()) reference = decisions;
      EXPECT_EQ(decisions, reference) << text;
      ExpectSameBothWays(*client, topics, filters);
    }
  }
  // Spelled out: deny a/x beats allow a/# and a/x; "a/+" overlaps the denied a/s/#.
  EXPECT_EQ(reference, "PpPPpppssssSs");
}

TEST(ClientAclIndex, DefaultAllowAndSelectors) {
  auto acl = Acl::Parse(R"(
default: allow
rules:
  - identity: cam-1
    deny_publish: ["cams/+/config"]
  - client_id: gw
    deny_subscribe: ["#"]
  - anonymous: true
    deny_publish: ["#"]
)");
  ASSERT_TRUE(acl.ok()) << acl.status();
  auto cam = acl->ForClient("cam-1", "x", "cam-1");
  EXPECT_FALSE(cam->CanPublish("cams/cam-1/config"));
  EXPECT_TRUE(cam->CanPublish("cams/cam-1/image"));
  EXPECT_TRUE(acl->ForClient("cam-1", "x", "")->CanPublish("cams/cam-1/config"))
      << "the identity selector needs the certificate identity, not the user name";
  auto gw = acl->ForClient("u", "gw", "");
  EXPECT_FALSE(gw->CanSubscribe("a"));
  EXPECT_TRUE(gw->CanSubscribe("$SYS/x")) << "'#' overlaps no '$' filter";
  EXPECT_FALSE(acl->ForClient("", "anon", "")->CanPublish("a/b"));
  EXPECT_TRUE(acl->ForClient("", "anon", "")->CanPublish("$internal/x"));
}

}  // namespace
}  // namespace sluice::auth
