// Strong ID types: distinct types for values that are all integers underneath, so that a
// Term can never be passed where a LogIndex is expected. Value types; thread-compatible.
#ifndef SLUICE_BASE_IDS_H_
#define SLUICE_BASE_IDS_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

namespace sluice {

template <typename Tag, typename Rep = uint64_t>
class StrongId {
 public:
  using rep_type = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  constexpr auto operator<=>(const StrongId&) const = default;
  constexpr StrongId Next() const { return StrongId(value_ + 1); }
  constexpr StrongId Prev() const { return StrongId(value_ - 1); }
  template <typename H>
  friend H AbslHashValue(H h, const StrongId& id) {
    return H::combine(std::move(h), id.value_);
  }
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) {
    return os << id.value_;
  }

 private:
  Rep value_ = 0;
};

using NodeId = StrongId<struct NodeIdTag>;
using Term = StrongId<struct TermTag>;
using LogIndex = StrongId<struct LogIndexTag>;
using GroupId = StrongId<struct GroupIdTag>;
using PartitionId = StrongId<struct PartitionIdTag, uint32_t>;
using Offset = StrongId<struct OffsetTag>;
using ShardId = StrongId<struct ShardIdTag, uint32_t>;

}  // namespace sluice

template <typename Tag, typename Rep>
struct std::hash<sluice::StrongId<Tag, Rep>> {
  size_t operator()(const sluice::StrongId<Tag, Rep>& id) const {
    return std::hash<Rep>()(id.value());
  }
};

#endif  // SLUICE_BASE_IDS_H_
