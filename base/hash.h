// Stable hashes: the same value in every process, build and machine, for anything that
// crosses a process or is stored (a client id's shard or owner, a topic's partition). Not
// absl::Hash, which is seeded per process. Pure, thread-safe.
#ifndef SLUICE_BASE_HASH_H_
#define SLUICE_BASE_HASH_H_

#include <cstdint>
#include <string_view>

namespace sluice {

// FNV-1a, 64 bits.
inline uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace sluice

#endif  // SLUICE_BASE_HASH_H_
