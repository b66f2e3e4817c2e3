// SubscriptionTrie: every subscription of the broker (or one shard's replica of them), keyed
// by filter level, for matching a published topic name in time proportional to the levels
// and matches rather than the number of subscriptions. Share groups ($share/g/f) are kept
// per filter node with their members in join order.
//
// Pure data structure: no I/O, no locking. Thread-compatible: each shard owns its replica and
// touches it only from its own thread.
#ifndef SLUICE_BROKER_TOPIC_SUBSCRIPTION_TRIE_H_
#define SLUICE_BROKER_TOPIC_SUBSCRIPTION_TRIE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "base/strings.h"

namespace sluice::topic {
using ::sluice::Av;

struct SubscriptionOptions {
  uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  uint32_t subscription_id = 0;  // 0 = none
  bool operator==(const SubscriptionOptions&) const = default;
};

struct SubscriberEntry {
  std::string client_id;
  uint32_t shard = 0;  // the shard that owns the client's session
  SubscriptionOptions options;
};

class SubscriptionTrie {
 public:
  SubscriptionTrie();
  ~SubscriptionTrie();
  SubscriptionTrie(const SubscriptionTrie&) = delete;
  SubscriptionTrie& operator=(const SubscriptionTrie&) = delete;

  // Adds or replaces `client_id`'s subscription to `filter` (a valid filter without the
  // $share prefix) in share group `group` (empty: not shared). Returns true if it is new.
  bool Add(std::string_view filter, std::string_view group, std::string_view client_id,
           uint32_t shard, const SubscriptionOptions& options);
  // Returns true if the subscription existed.
  bool Remove(std::string_view filter, std::string_view group, std::string_view client_id);

  // Calls on_entry(const SubscriberEntry&) for each plain subscription matching `name`, and
  // on_group(std::vector<SubscriberEntry>& members, size_t& cursor) once per matching share
  // group (the cursor is the group's own round-robin position, kept across calls).
  template <typename OnEntry, typename OnGroup>
  void Match(std::string_view name, OnEntry&& on_entry, OnGroup&& on_group) {
    MatchLevel(root_.get(), name, 0, true, on_entry, on_group);
  }

  size_t size() const { return count_; }

 private:
  struct ShareGroup {
    std::vector<SubscriberEntry> members;
    size_t cursor = 0;
  };
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    absl::flat_hash_map<std::string, SubscriberEntry> subscribers;  // by client id
    absl::flat_hash_map<std::string, ShareGroup> groups;
    bool Empty() const { return children.empty() && subscribers.empty() && groups.empty(); }
  };

  template <typename OnEntry, typename OnGroup>
  static void Visit(Node* node, OnEntry& on_entry, OnGroup& on_group) {
    for (auto& [id, entry] : node->subscribers) on_entry(entry);
    for (auto& [name, group] : node->groups)
      if (!group.members.empty()) on_group(group.members, group.cursor);
  }

  // `pos` is the start of the current level in `name`; pos == npos means past the end.
  template <typename OnEntry, typename OnGroup>
  static void MatchLevel(Node* node, std::string_view name, size_t pos, bool first,
                         OnEntry& on_entry, OnGroup& on_group) {
    if (node->children.empty() && pos != std::string_view::npos) return;
    bool dollar = first && !name.empty() && name[0] == '$';
    if (!dollar) {
      if (auto it = node->children.find(absl::string_view("#")); it != node->children.end())
        Visit(it->second.get(), on_entry, on_group);
    }
    if (pos == std::string_view::npos) return;
    size_t end = name.find('/', pos);
    std::string_view level = name.substr(pos, end == std::string_view::npos ? end : end - pos);
    size_t next = end == std::string_view::npos ? std::string_view::npos : end + 1;
    if (auto it = node->children.find(Av(level)); it != node->children.end()) {
      if (next == std::string_view::npos) Visit(it->second.get(), on_entry, on_group);
      MatchLevel(it->second.get(), name, next, false, on_entry, on_group);
    }
    if (!dollar) {
      if (auto it = node->children.find(absl::string_view("+")); it != node->children.end()) {
        if (next == std::string_view::npos) Visit(it->second.get(), on_entry, on_group);
        MatchLevel(it->second.get(), name, next, false, on_entry, on_group);
      }
    }
  }

  std::unique_ptr<Node> root_;
  size_t count_ = 0;
};

}  // namespace sluice::topic

#endif  // SLUICE_BROKER_TOPIC_SUBSCRIPTION_TRIE_H_
