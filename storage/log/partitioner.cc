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

bool Partitioner::MayHold(PartitionId partition, std::string_view filter) const {
  // A matching topic has the filter's literal levels where the filter has them, so when the
  // hashed levels are all literal it hashes like the filter; '#' also matches the parent
  // level ("a/b/#" matches "a/b"), whose key is the same literal prefix.
  const std::string_view key = Key(filter);
  if (key.find_first_of("+#") != std::string_view::npos) return true;
  return For(filter) == partition;
}

}  // namespace sluice::storage
