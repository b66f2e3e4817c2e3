#include "storage/log/partitioner.h"

#include "mqtt/topic/levels.h"

namespace sluice::storage {

std::string_view Partitioner::Key(std::string_view topic) const {
  if (key_levels_ == 0) return topic;
  return topic::FirstLevels(topic, key_levels_);
}

PartitionId Partitioner::For(std::string_view topic) const {
  return PartitionId(static_cast<uint32_t>(Fnv1a64(Key(topic)) % partitions_));
}

}  // namespace sluice::storage
