// FilterIndex: a set of MQTT topic filters stored as a trie of topic levels (with '+' and
// '#' nodes), answering the three questions the ACL asks about the whole set at once:
//
//   AnyMatches(topic)    some filter in the set matches the topic name (topic::Matches)
//   AnyCovers(filter)    some filter in the set covers `filter` (auth::FilterCovers)
//   AnyOverlaps(filter)  some filter in the set overlaps `filter` (auth::FiltersOverlap)
//
// Each answer is exactly the OR of the pairwise function over the filters added (the unit
// tests check this against the pairwise functions on random sets), including the MQTT 4.7.2
// rule that a filter starting with a wildcard matches no '$' topic.
//
// Cost: AnyMatches and AnyCovers follow at most the exact, '+' and '#' branches of each level,
// so a check costs O(levels of the topic × wildcard branches taken), independent of how many
// filters are stored. AnyOverlaps of a filter containing '+' or '#' must visit every branch
// below that level (any of them may overlap), which is bounded by the trie's size.
//
// Thread-safety: Add is not thread-safe; the const methods are, once building is done.
// Filters must be valid (topic::IsValidTopicFilter); Add does not check.
#ifndef SLUICE_BROKER_AUTH_FILTER_INDEX_H_
#define SLUICE_BROKER_AUTH_FILTER_INDEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace sluice::auth {

class FilterIndex {
 public:
  FilterIndex();
  ~FilterIndex();
  FilterIndex(FilterIndex&&) noexcept;
  FilterIndex& operator=(FilterIndex&&) noexcept;

  void Add(std::string_view filter);
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }  // distinct filters

  bool AnyMatches(std::string_view topic) const;
  bool AnyCovers(std::string_view filter) const;
  bool AnyOverlaps(std::string_view filter) const;

 private:
  struct Node {
    bool terminal = false;  // a filter ends at this node
    // Exact levels; '+' and '#' have their own slots (they never appear in `exact`).
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> exact;
    std::unique_ptr<Node> plus, hash;
  };
  std::unique_ptr<Node> root_;
  size_t size_ = 0;
};

}  // namespace sluice::auth

#endif  // SLUICE_BROKER_AUTH_FILTER_INDEX_H_
