// libFuzzer target for the tries a packet reaches (issue 19): the subscription trie, the
// retained trie and the ACL's filter index, driven by a program decoded from the input and
// checked against a brute-force model built on topic::Matches and auth's pairwise filter
// algebra. Topics are generated so that a few input bytes make them deep (a level repeated
// up to 32,000 times) or wide (many siblings), and each input runs on a 256 KiB stack: a
// walk that recursed per level would overflow at once.
//
// Program: a sequence of commands, each an op byte followed by its operands.
//   op % 7 == 0  subscribe  client(1) filter        -> SubscriptionTrie::Add (+ FilterIndex)
//           1  unsubscribe client(1) filter        -> SubscriptionTrie::Remove
//           2  retain      name                    -> RetainedTrie::Set
//           3  clear       name                    -> RetainedTrie::Erase
//           4  publish     name                    -> Match, AnyMatches: compared with the model
//           5  new sub     filter                  -> RetainedTrie::Match, AnyCovers, AnyOverlaps
//           6  share       client(1) filter        -> Add to share group "g"
// Topic: parts(1) then per part kind(1) repeat(2): the level of `kind` repeated repeat+1 times
// (bounded so the topic stays <= 65535 bytes). Names drop wildcards; filters keep '#' only
// last.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/check.h"
#include "base/testing/small_stack.h"
#include "broker/auth/acl.h"
#include "broker/auth/filter_index.h"
#include "mqtt/topic/retained_trie.h"
#include "mqtt/topic/subscription_trie.h"
#include "mqtt/topic/topic.h"

namespace {

using namespace sluice;

constexpr size_t kMaxTopicBytes = 65535;
constexpr size_t kMaxRepeat = 32'000;
const std::string kPlus = "+";

class Input {
 public:
  explicit Input(std::string_view s) : s_(s) {}
  bool empty() const { return pos_ >= s_.size(); }
  uint8_t Byte() { return pos_ < s_.size() ? static_cast<uint8_t>(s_[pos_++]) : 0; }
  uint16_t U16() { return static_cast<uint16_t>(Byte() << 8 | Byte()); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string Topic(Input& in, bool filter) {
  static const char* kLevels[] = {"", "a", "b", "$s", "+", "#", "long-level-name", "c"};
  std::string t;
  const int parts = 1 + in.Byte() % 4;
  for (int p = 0; p < parts; ++p) {
    std::string level = kLevels[in.Byte() % 8];
    const size_t repeat = 1 + in.U16() % kMaxRepeat;
    if (!filter && (level == "+" || level == "#")) level = "w";
    for (size_t i = 0; i < repeat; ++i) {
      const bool final = p + 1 == parts && i + 1 == repeat;
      const std::string& l = level == "#" && !final ? kPlus : level;  // '#' only last
      if (t.size() + 1 + l.size() > kMaxTopicBytes) return t;
      if (p > 0 || i > 0) t += '/';
      t += l;
    }
  }
  return t;
}

struct Model {
  std::map<std::pair<std::string, std::string>, bool> subs;  // (filter, client) -> shared
  std::map<std::string, int> retained;
};

std::set<std::string> TrieMatch(topic::SubscriptionTrie& trie, const std::string& name) {
  std::set<std::string> got;
  trie.Match(
      name, [&](const topic::SubscriberEntry& e) { got.insert(e.client_id); },
      [&](std::vector<topic::SubscriberEntry>& members, size_t& cursor) {
        for (const auto& m : members) got.insert("g:" + m.client_id);
        ++cursor;
      });
  return got;
}

void Run(std::string_view data) {
  Input in(data);
  Model model;
  topic::SubscriptionTrie trie;
  topic::RetainedTrie<int> retained;
  int ops = 0;
  while (!in.empty() && ++ops <= 32) {
    const uint8_t op = in.Byte() % 7;
    switch (op) {
      case 0:
      case 1:
      case 6: {
        const std::string client = "c" + std::to_string(in.Byte() % 4);
        const std::string f = Topic(in, true);
        if (!topic::IsValidTopicFilter(f)) break;
        const bool shared = op == 6;
        if (op == 1) {
          const bool had = model.subs.erase({f, client}) > 0;
          // The model keys plain and shared alike; remove from whichever holds it.
          const bool removed = trie.Remove(f, "", client) || trie.Remove(f, "g", client);
          SLUICE_CHECK(removed == had);
        } else {
          if (model.subs.count({f, client})) break;  // keep one kind per (filter, client)
          model.subs[{f, client}] = shared;
          SLUICE_CHECK(trie.Add(f, shared ? "g" : "", client, 0, {}));
        }
        break;
      }
      case 2: {
        const std::string n = Topic(in, false);
        if (!topic::IsValidTopicName(n)) break;
        model.retained[n] = ops;
        retained.Set(n, ops);
        break;
      }
      case 3: {
        const std::string n = Topic(in, false);
        SLUICE_CHECK(retained.Erase(n) == (model.retained.erase(n) > 0));
        break;
      }
      case 4: {
        const std::string n = Topic(in, false);
        if (!topic::IsValidTopicName(n)) break;
        std::set<std::string> want;
        auth::FilterIndex index;
        bool any = false;
        for (const auto& [key, shared] : model.subs) {
          index.Add(key.first);
          if (topic::Matches(key.first, n)) {
            want.insert(shared ? "g:" + key.second : key.second);
            any = true;
          }
        }
        SLUICE_CHECK(TrieMatch(trie, n) == want);
        SLUICE_CHECK(index.AnyMatches(n) == any);
        break;
      }
      case 5: {
        const std::string f = Topic(in, true);
        if (!topic::IsValidTopicFilter(f)) break;
        std::set<std::string> want, got;
        for (const auto& [n, v] : model.retained)
          if (topic::Matches(f, n)) want.insert(n);
        retained.Match(f, [&](std::string_view n, int) {
          SLUICE_CHECK(got.insert(std::string(n)).second);
        });
        SLUICE_CHECK(got == want);
        auth::FilterIndex index;
        bool covers = false, overlaps = false;
        for (const auto& [key, shared] : model.subs) {
          index.Add(key.first);
          covers = covers || auth::FilterCovers(key.first, f);
          overlaps = overlaps || auth::FiltersOverlap(key.first, f);
        }
        SLUICE_CHECK(index.AnyCovers(f) == covers);
        SLUICE_CHECK(index.AnyOverlaps(f) == overlaps);
        break;
      }
    }
  }
  size_t n = 0;
  retained.ForEach([&](std::string_view name, int) {
    SLUICE_CHECK(model.retained.count(std::string(name)) == 1);
    ++n;
  });
  SLUICE_CHECK(n == model.retained.size());
  // The tries are destroyed here, deep branches and all.
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) SLUICE_CHECK(chdir(dir) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // ASan's frames are larger; its builds get a roomier (still small) stack.
  sluice::testing::RunOnSmallStack(4 * sluice::testing::kSmallStackBytes, [in] { Run(in); });
  return 0;
}
