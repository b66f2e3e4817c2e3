// RetainedTrie<V>: the retained message of each topic name, keyed by level, so that a new
// subscription's filter finds the matching retained messages without scanning every topic.
// Pure data structure; thread-compatible (the broker guards it, see broker/server).
//
// Every walk is iterative, with an explicit stack on the heap: a client chooses the depth of
// the topics stored and of the filters matched (up to 32,768 levels in a 64 KiB topic), so
// nothing may recurse once per level — neither matching, nor enumeration, nor destruction.
#ifndef SLUICE_MQTT_TOPIC_RETAINED_TRIE_H_
#define SLUICE_MQTT_TOPIC_RETAINED_TRIE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "base/strings.h"
#include "mqtt/topic/levels.h"

namespace sluice::topic {
using ::sluice::Av;

template <typename V>
class RetainedTrie {
 public:
  RetainedTrie() = default;
  RetainedTrie(const RetainedTrie&) = delete;
  RetainedTrie& operator=(const RetainedTrie&) = delete;
  ~RetainedTrie() {
    std::vector<std::unique_ptr<Node>> work;
    for (auto& [level, child] : root_.children) work.push_back(std::move(child));
    while (!work.empty()) {
      std::unique_ptr<Node> node = std::move(work.back());
      work.pop_back();
      for (auto& [level, child] : node->children) work.push_back(std::move(child));
    }
  }

  // Sets (or replaces) the value of topic `name`.
  void Set(std::string_view name, V value) {
    Node* node = &root_;
    ForEachLevel(name, [&](std::string_view level) {
      auto& child = node->children[Av(level)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    });
    if (!node->value) ++count_;
    node->value = std::move(value);
  }

  // Removes topic `name`; returns true if it had a value.
  bool Erase(std::string_view name) {
    std::vector<std::pair<Node*, std::string_view>> path;
    Node* node = &root_;
    bool found = true;
    ForEachLevel(name, [&](std::string_view level) {
      if (!found) return;
      auto it = node->children.find(Av(level));
      if (it == node->children.end()) {
        found = false;
        return;
      }
      path.emplace_back(node, level);
      node = it->second.get();
    });
    if (!found || !node->value) return false;
    node->value.reset();
    --count_;
    // Prune the nodes left empty, deepest first (each has no children, so no deep subtree
    // is destroyed here).
    for (size_t i = path.size(); i > 0; --i) {
      Node* parent = path[i - 1].first;
      auto it = parent->children.find(Av(path[i - 1].second));
      if (it->second->value || !it->second->children.empty()) break;
      parent->children.erase(it);
    }
    return true;
  }

  // Calls fn(std::string_view name, const V&) for every topic matching `filter` (a valid
  // filter; wildcards at the first level do not match names starting with '$').
  template <typename Fn>
  void Match(std::string_view filter, Fn&& fn) const {
    // One frame per node still to visit. `name_len` is the length of the parent's name in
    // `name`: a frame is popped only after the subtrees pushed above it, whose names all
    // extend the parent's, so truncating to it restores the parent's name.
    struct Frame {
      const Node* node;
      size_t pos;       // start of the filter level this node's children are matched with
      size_t name_len;  // the parent's name length
      std::string_view level;
      bool root_child;  // the parent is the root: no '/' before the level
    };
    std::string name;
    std::vector<Frame> stack;
    auto expand = [&](const Node* node, size_t pos) {
      const bool at_root = node == &root_;
      size_t next = 0;
      const std::string_view level = LevelFrom(filter, pos, &next);
      if (level == "#") {
        // "a/#" also matches "a": the node itself, then everything below.
        if (!at_root && node->value) fn(std::string_view(name), *node->value);
        WalkBelow(node, &name, /*skip_dollar=*/at_root, fn);
        return;
      }
      if (level == "+") {
        for (const auto& [child_level, child] : node->children) {
          if (at_root && !child_level.empty() && child_level[0] == '$') continue;
          stack.push_back({child.get(), next, name.size(), child_level, at_root});
        }
      } else if (auto it = node->children.find(Av(level)); it != node->children.end()) {
        stack.push_back({it->second.get(), next, name.size(), level, at_root});
      }
    };
    expand(&root_, 0);
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      name.resize(f.name_len);
      Append(&name, f.root_child, f.level);
      if (f.pos == std::string_view::npos) {
        // The filter's last level matched this node ("a/b/#" below is handled by the '#'
        // level of the next expansion).
        if (f.node->value) fn(std::string_view(name), *f.node->value);
      } else {
        expand(f.node, f.pos);
      }
    }
  }

  // Calls fn(name, value) for every topic, '$' topics included.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::string name;
    WalkBelow(&root_, &name, /*skip_dollar=*/false, fn);
  }

  size_t size() const { return count_; }

 private:
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    std::optional<V> value;
  };

  static void Append(std::string* name, bool first, std::string_view level) {
    if (!first) name->push_back('/');
    name->append(level);
  }

  // Calls fn for every value strictly below `top` (whose name is *name), depth first. A
  // node's name is its parent's, '/', its level; under the root, the level alone.
  // skip_dollar: `top` is the root and its children starting with '$' are not matched by a
  // wildcard. *name is restored before returning.
  template <typename Fn>
  void WalkBelow(const Node* top, std::string* name, bool skip_dollar, Fn& fn) const {
    struct Frame {
      const Node* node;
      size_t name_len;  // the parent's name length
      std::string_view level;
      bool root_child;
    };
    const size_t top_len = name->size();
    std::vector<Frame> stack;
    auto push_children = [&](const Node* node, bool node_is_top) {
      for (const auto& [level, child] : node->children) {
        if (node_is_top && skip_dollar && !level.empty() && level[0] == '$') continue;
        stack.push_back({child.get(), name->size(), level, node == &root_});
      }
    };
    push_children(top, true);
    while (!stack.empty()) {
      const Frame f = stack.back();
      stack.pop_back();
      name->resize(f.name_len);
      Append(name, f.root_child, f.level);
      if (f.node->value) fn(std::string_view(*name), *f.node->value);
      push_children(f.node, false);
    }
    name->resize(top_len);
  }

  Node root_;
  size_t count_ = 0;
};

}  // namespace sluice::topic

#endif  // SLUICE_MQTT_TOPIC_RETAINED_TRIE_H_
