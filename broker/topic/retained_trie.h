// RetainedTrie<V>: the retained message of each topic name, keyed by level, so that a new
// subscription's filter finds the matching retained messages without scanning every topic.
// Pure data structure; thread-compatible (the broker guards it, see broker/server).
#ifndef SLUICE_BROKER_TOPIC_RETAINED_TRIE_H_
#define SLUICE_BROKER_TOPIC_RETAINED_TRIE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "base/strings.h"

namespace sluice::topic {
using ::sluice::Av;

template <typename V>
class RetainedTrie {
 public:
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
    std::string name;
    MatchFrom(&root_, filter, 0, true, &name, fn);
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::string name;
    Walk(&root_, &name, true, fn, false);
  }

  size_t size() const { return count_; }

 private:
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    std::optional<V> value;
  };

  template <typename Fn>
  static void ForEachLevel(std::string_view name, Fn&& fn) {
    size_t start = 0;
    while (true) {
      size_t end = name.find('/', start);
      fn(name.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) return;
      start = end + 1;
    }
  }

  static void Append(std::string* name, bool first, std::string_view level) {
    if (!first) name->push_back('/');
    name->append(level);
  }

  // Visits `node` (whose name is *name) and all its descendants. skip_dollar: at the root,
  // children whose level starts with '$' are not matched by a wildcard.
  template <typename Fn>
  static void Walk(const Node* node, std::string* name, bool at_root, Fn& fn, bool skip_dollar) {
    if (!at_root && node->value) fn(std::string_view(*name), *node->value);
    for (const auto& [level, child] : node->children) {
      if (at_root && skip_dollar && !level.empty() && level[0] == '$') continue;
      size_t len = name->size();
      Append(name, at_root, level);
      Walk(child.get(), name, false, fn, false);
      name->resize(len);
    }
  }

  template <typename Fn>
  static void MatchFrom(const Node* node, std::string_view filter, size_t pos, bool at_root,
                        std::string* name, Fn& fn) {
    size_t end = filter.find('/', pos);
    std::string_view level = filter.substr(pos, end == std::string_view::npos ? end : end - pos);
    bool last = end == std::string_view::npos;
    if (level == "#") {
      // Walk visits `node` itself too: "a/#" also matches "a".
      Walk(node, name, at_root, fn, /*skip_dollar=*/at_root);
      return;
    }
    auto descend = [&](std::string_view child_level, const Node* child) {
      size_t len = name->size();
      Append(name, at_root, child_level);
      if (last) {
        if (child->value) fn(std::string_view(*name), *child->value);
        // "a/b/#" below: a trailing "#" is matched by MatchFrom on the next level.
      } else {
        MatchFrom(child, filter, end + 1, false, name, fn);
      }
      name->resize(len);
    };
    if (level == "+") {
      for (const auto& [child_level, child] : node->children) {
        if (at_root && !child_level.empty() && child_level[0] == '$') continue;
        descend(child_level, child.get());
      }
    } else if (auto it = node->children.find(Av(level)); it != node->children.end()) {
      descend(level, it->second.get());
    }
  }

  Node root_;
  size_t count_ = 0;
};

}  // namespace sluice::topic

#endif  // SLUICE_BROKER_TOPIC_RETAINED_TRIE_H_
