// SubscriptionTrie: every subscription of the broker (or one shard's replica of them), keyed
// by filter level, for matching a published topic name in time proportional to the levels
// and matches rather than the number of subscriptions. Share groups ($share/g/f) are kept
// per filter node with their members in join order.
//
// Pure data structure: no I/O, no locking. Thread-compatible: each shard owns its replica and
// touches it only from its own thread.
#ifndef SLUICE_MQTT_TOPIC_SUBSCRIPTION_TRIE_H_
#define SLUICE_MQTT_TOPIC_SUBSCRIPTION_TRIE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "base/strings.h"
#include "mqtt/topic/levels.h"

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
  // Iterative (an explicit stack bounded by the topic's levels): a client controls the depth
  // of both the name and the trie, so nothing here may recurse per level.
  template <typename OnEntry, typename OnGroup>
  void Match(std::string_view name, OnEntry&& on_entry, OnGroup&& on_group) {
    struct Frame {
      Node* node;
      size_t pos;  // start of the level to match in `name`; npos: past the end
    };
    const bool dollar_name = !name.empty() && name[0] == '$';
    absl::InlinedVector<Frame, 32> stack;
    stack.push_back({root_.get(), 0});
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      Node* node = f.node;
      if (node->children.empty()) continue;
      // A filter starting with a wildcard does not match a name starting with '$' (4.7.2).
      const bool wild_ok = !(node == root_.get() && dollar_name);
      if (wild_ok) {
        if (auto it = node->children.find(absl::string_view("#")); it != node->children.end())
          Visit(it->second.get(), on_entry, on_group);
      }
      if (f.pos == std::string_view::npos) continue;
      size_t next = 0;
      const std::string_view level = LevelFrom(name, f.pos, &next);
      auto descend = [&](Node* child) {
        if (next == std::string_view::npos) Visit(child, on_entry, on_group);
        stack.push_back({child, next});
      };
      if (wild_ok) {
        if (auto it = node->children.find(absl::string_view("+")); it != node->children.end())
          descend(it->second.get());
      }
      if (auto it = node->children.find(Av(level)); it != node->children.end())
        descend(it->second.get());
    }
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

  std::unique_ptr<Node> root_;
  size_t count_ = 0;
};

}  // namespace sluice::topic

#endif  // SLUICE_MQTT_TOPIC_SUBSCRIPTION_TRIE_H_
