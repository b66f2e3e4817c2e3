#include "storage/log/partitioner.h"

namespace sluice::storage {

std::string_view Partitioner::Key(std::string_view topic) const {
  if (key_levels_ == 0) return topic;
  size_t pos = 0;
  for (uint32_t level = 0; level < key_levels_; ++level) {
    pos = topic.find('/', pos);
    if (pos == std::string_view::npos) return topic;
    if (level + 1 < key_levels_) ++pos;
  }
  return topic.substr(0, pos);
}

PartitionId Partitioner::For(std::string_view topic) const {
  return PartitionId(static_cast<uint32_t>(Fnv1a64(Key(topic)) % partitions_));
}

}  // namespace sluice::storage
