#include "broker/auth/filter_index.h"

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "mqtt/topic/levels.h"

namespace sluice::auth {

namespace {

// Levels of a topic or filter as views into it. Most topics have few levels: no allocation.
using LevelList = absl::InlinedVector<std::string_view, 16>;

LevelList SplitLevels(std::string_view s) {
  LevelList out;
  topic::ForEachLevel(s, [&](std::string_view level) { out.push_back(level); });
  return out;
}

bool IsDollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

// This abseil's string_view is its own type: the maps' heterogeneous lookup takes it.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

FilterIndex::FilterIndex() : root_(std::make_unique<Node>()) {}
// Node destructors would recurse once per level (filters as deep as a substituted client id
// allows): take the tree apart with a worklist.
FilterIndex::~FilterIndex() {
  std::vector<std::unique_ptr<Node>> work;
  if (root_) work.push_back(std::move(root_));
  while (!work.empty()) {
    std::unique_ptr<Node> node = std::move(work.back());
    work.pop_back();
    for (auto& [level, child] : node->exact) work.push_back(std::move(child));
    if (node->plus) work.push_back(std::move(node->plus));
    if (node->hash) work.push_back(std::move(node->hash));
  }
}
FilterIndex::FilterIndex(FilterIndex&& other) noexcept
    : root_(std::move(other.root_)), size_(other.size_) {
  other.size_ = 0;
}
FilterIndex& FilterIndex::operator=(FilterIndex&& other) noexcept {
  FilterIndex old(std::move(*this));  // destroyed iteratively, below
  root_ = std::move(other.root_);
  size_ = other.size_;
  other.size_ = 0;
  return *this;
}

void FilterIndex::Add(std::string_view filter) {
  Node* node = root_.get();
  for (std::string_view level : SplitLevels(filter)) {
    std::unique_ptr<Node>* slot;
    if (level == "+") {
      slot = &node->plus;
    } else if (level == "#") {
      slot = &node->hash;
    } else {
      slot = &node->exact[std::string(level)];
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }
  if (!node->terminal) ++size_;
  node->terminal = true;
}

// The walks below mirror topic::Matches, FilterCovers and FiltersOverlap level by level.
// Each answers "does some path of the trie agree with the argument", so each is a depth-first
// search over (node, i) frames, `i` being the index of the argument's level compared with
// the node's children, that stops at the first success. The stack is explicit: filters come
// from the ACL after %u/%c substitution and topics from clients, so both depths are
// client-controlled and nothing may recurse per level. `dollar_root` is true when the
// argument's first level starts with '$': then the '+' and '#' children of the root do not
// apply (MQTT 4.7.2).

namespace {

template <typename Node>
struct Frame {
  const Node* node;
  size_t i;
};

template <typename Node>
bool MatchWalk(const Node& root, const LevelList& t, bool dollar_root) {
  absl::InlinedVector<Frame<Node>, 16> stack{{&root, 0}};
  while (!stack.empty()) {
    const auto [node, i] = stack.back();
    stack.pop_back();
    const bool wild_ok = i > 0 || !dollar_root;
    if (node->hash && wild_ok) return true;  // "a/#" matches "a" and everything below it
    if (i == t.size()) {
      if (node->terminal) return true;
      continue;
    }
    if (node->plus && wild_ok) stack.push_back({node->plus.get(), i + 1});
    if (auto it = node->exact.find(Key(t[i])); it != node->exact.end())
      stack.push_back({it->second.get(), i + 1});
  }
  return false;
}

template <typename Node>
bool CoverWalk(const Node& root, const LevelList& f, bool dollar_root) {
  absl::InlinedVector<Frame<Node>, 16> stack{{&root, 0}};
  while (!stack.empty()) {
    const auto [node, i] = stack.back();
    stack.pop_back();
    const bool wild_ok = i > 0 || !dollar_root;
    if (node->hash && wild_ok) return true;  // '#' covers whatever follows, '#' itself included
    if (i == f.size()) {
      if (node->terminal) return true;
      continue;
    }
    const std::string_view level = f[i];
    if (level == "#") continue;  // only a '#' covers a '#'
    if (node->plus && wild_ok) stack.push_back({node->plus.get(), i + 1});
    if (level == "+") continue;  // a literal level covers no '+'
    if (auto it = node->exact.find(Key(level)); it != node->exact.end())
      stack.push_back({it->second.get(), i + 1});
  }
  return false;
}

template <typename Node>
bool OverlapWalk(const Node& root, const LevelList& f, bool dollar_root) {
  absl::InlinedVector<Frame<Node>, 16> stack{{&root, 0}};
  while (!stack.empty()) {
    const auto [node, i] = stack.back();
    stack.pop_back();
    const bool wild_ok = i > 0 || !dollar_root;
    // A stored '#' here overlaps whatever `f` has from level i on (or `f` ending here).
    if (node->hash && wild_ok) return true;
    if (i == f.size()) {
      if (node->terminal) return true;
      continue;
    }
    const std::string_view level = f[i];
    if (level == "#") {
      // `f`'s '#' overlaps a stored filter ending here ("a" and "a/#") or going on below
      // (every node lies on the path of some stored filter). At the root, a wildcard in `f`
      // overlaps no stored filter that starts with '$'.
      if (node->terminal || node->plus || node->hash) return true;
      if (i > 0) {
        if (!node->exact.empty()) return true;
        continue;
      }
      for (const auto& [name, child] : node->exact)
        if (!IsDollar(std::string_view(name))) return true;
      continue;
    }
    if (node->plus && wild_ok) stack.push_back({node->plus.get(), i + 1});
    if (level == "+") {
      for (const auto& [name, child] : node->exact) {
        if (i == 0 && IsDollar(std::string_view(name))) continue;
        stack.push_back({child.get(), i + 1});
      }
      continue;
    }
    if (auto it = node->exact.find(Key(level)); it != node->exact.end())
      stack.push_back({it->second.get(), i + 1});
  }
  return false;
}

}  // namespace

bool FilterIndex::AnyMatches(std::string_view topic) const {
  if (size_ == 0) return false;
  LevelList t = SplitLevels(topic);
  return MatchWalk(*root_, t, IsDollar(t[0]));
}

bool FilterIndex::AnyCovers(std::string_view filter) const {
  if (size_ == 0) return false;
  LevelList f = SplitLevels(filter);
  return CoverWalk(*root_, f, IsDollar(f[0]));
}

bool FilterIndex::AnyOverlaps(std::string_view filter) const {
  if (size_ == 0) return false;
  LevelList f = SplitLevels(filter);
  return OverlapWalk(*root_, f, IsDollar(f[0]));
}

}  // namespace sluice::auth
