// Seeded randomness as an interface. Rng's output depends only on its seed, on every platform
// (no std::uniform_int_distribution, whose output differs between standard libraries), so a
// simulator run is replayed exactly from its seed. Thread-compatible.
#ifndef SLUICE_BASE_RNG_H_
#define SLUICE_BASE_RNG_H_

#include <cstdint>

namespace sluice {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, bound); bound must be > 0. Lemire's multiply-shift: tiny bias, no loop.
  uint64_t Uniform(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * bound) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability numerator/denominator.
  bool Chance(uint64_t numerator, uint64_t denominator) {
    return Uniform(denominator) < numerator;
  }
};

// xoshiro256** seeded through splitmix64.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() override {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace sluice

#endif  // SLUICE_BASE_RNG_H_
