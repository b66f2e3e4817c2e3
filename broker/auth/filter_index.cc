#include "broker/auth/filter_index.h"

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

namespace sluice::auth {

namespace {

// Levels of a topic or filter as views into it. Most topics have few levels: no allocation.
using LevelList = absl::InlinedVector<std::string_view, 16>;

LevelList SplitLevels(std::string_view s) {
  LevelList out;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

bool IsDollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

// This abseil's string_view is its own type: the maps' heterogeneous lookup takes it.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

FilterIndex::FilterIndex() : root_(std::make_unique<Node>()) {}
FilterIndex::~FilterIndex() = default;
FilterIndex::FilterIndex(FilterIndex&&) noexcept = default;
FilterIndex& FilterIndex::operator=(FilterIndex&&) noexcept = default;

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

// The walks below mirror topic::Matches, FilterCovers and FiltersOverlap level by level;
// `i` is the index of the level of the argument being compared with `node`'s children.
// `dollar_root` is true when the argument's first level starts with '$': then the '+' and
// '#' children of the root do not apply (MQTT 4.7.2).

namespace {

template <typename Node>
bool MatchWalk(const Node& node, const LevelList& t, size_t i, bool dollar_root) {
  const bool wild_ok = i > 0 || !dollar_root;
  if (node.hash && wild_ok) return true;  // "a/#" matches "a" and everything below it
  if (i == t.size()) return node.terminal;
  if (node.plus && wild_ok && MatchWalk(*node.plus, t, i + 1, dollar_root)) return true;
  auto it = node.exact.find(Key(t[i]));
  return it != node.exact.end() && MatchWalk(*it->second, t, i + 1, dollar_root);
}

template <typename Node>
bool CoverWalk(const Node& node, const LevelList& f, size_t i, bool dollar_root) {
  const bool wild_ok = i > 0 || !dollar_root;
  if (node.hash && wild_ok) return true;  // '#' covers whatever follows, '#' itself included
  if (i == f.size()) return node.terminal;
  const std::string_view level = f[i];
  if (level == "#") return false;  // only a '#' covers a '#'
  if (node.plus && wild_ok && CoverWalk(*node.plus, f, i + 1, dollar_root)) return true;
  if (level == "+") return false;  // a literal level covers no '+'
  auto it = node.exact.find(Key(level));
  return it != node.exact.end() && CoverWalk(*it->second, f, i + 1, dollar_root);
}

template <typename Node>
bool OverlapWalk(const Node& node, const LevelList& f, size_t i, bool dollar_root) {
  const bool wild_ok = i > 0 || !dollar_root;
  // A stored '#' here overlaps whatever `f` has from level i on (or `f` ending here).
  if (node.hash && wild_ok) return true;
  if (i == f.size()) return node.terminal;
  const std::string_view level = f[i];
  if (level == "#") {
    // `f`'s '#' overlaps a stored filter ending here ("a" and "a/#") or going on below
    // (every node lies on the path of some stored filter). At the root, a wildcard in `f`
    // overlaps no stored filter that starts with '$'.
    if (node.terminal || node.plus || node.hash) return true;
    if (i > 0) return !node.exact.empty();
    for (const auto& [name, child] : node.exact)
      if (!IsDollar(std::string_view(name))) return true;
    return false;
  }
  if (node.plus && wild_ok && OverlapWalk(*node.plus, f, i + 1, dollar_root)) return true;
  if (level == "+") {
    for (const auto& [name, child] : node.exact) {
      if (i == 0 && IsDollar(std::string_view(name))) continue;
      if (OverlapWalk(*child, f, i + 1, dollar_root)) return true;
    }
    return false;
  }
  auto it = node.exact.find(Key(level));
  return it != node.exact.end() && OverlapWalk(*it->second, f, i + 1, dollar_root);
}

}  // namespace

bool FilterIndex::AnyMatches(std::string_view topic) const {
  if (size_ == 0) return false;
  LevelList t = SplitLevels(topic);
  return MatchWalk(*root_, t, 0, IsDollar(t[0]));
}

bool FilterIndex::AnyCovers(std::string_view filter) const {
  if (size_ == 0) return false;
  LevelList f = SplitLevels(filter);
  return CoverWalk(*root_, f, 0, IsDollar(f[0]));
}

bool FilterIndex::AnyOverlaps(std::string_view filter) const {
  if (size_ == 0) return false;
  LevelList f = SplitLevels(filter);
  return OverlapWalk(*root_, f, 0, IsDollar(f[0]));
}

}  // namespace sluice::auth
