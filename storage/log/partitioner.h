// Partitioner: which partition a topic's records go to. A stable hash (FNV-1a 64, the same in
// every process, build and version; never absl::Hash, which is seeded per process) of the whole
// topic or of its first `key_levels` levels, modulo the partition count. All records of one key
// land in one partition, so one topic keeps its order. Changing the partition count or the
// levels remaps keys (as in Kafka): both are fixed when a log is created. Thread-safe.
#ifndef SLUICE_STORAGE_LOG_PARTITIONER_H_
#define SLUICE_STORAGE_LOG_PARTITIONER_H_

#include <cstdint>
#include <string_view>

#include "base/hash.h"
#include "base/ids.h"

namespace sluice::storage {

using ::sluice::Fnv1a64;  // base/hash.h

class Partitioner {
 public:
  // `partitions` >= 1; `key_levels` 0 = the whole topic, N = its first N '/'-separated levels
  // ("a/b/c" with N=2 hashes "a/b"; a topic with fewer levels hashes whole).
  Partitioner(uint32_t partitions, uint32_t key_levels)
      : partitions_(partitions), key_levels_(key_levels) {}

  // The part of `topic` that is hashed.
  std::string_view Key(std::string_view topic) const;
  PartitionId For(std::string_view topic) const;
  // Whether a topic matching the topic filter `filter` (valid, no $share prefix) can be in
  // `partition`: when the hashed part of the filter has no wildcard, only the one partition
  // it hashes to; otherwise any. A reader (a session catching up) skips the others.
  bool MayHold(PartitionId partition, std::string_view filter) const;
  uint32_t partitions() const { return partitions_; }

 private:
  uint32_t partitions_;
  uint32_t key_levels_;
};

}  // namespace sluice::storage

#endif  // SLUICE_STORAGE_LOG_PARTITIONER_H_
