#include "tools/bench/stats.h"

#include <bit>
#include <cstdio>
#include <cstring>

namespace sluice::bench {

// Values below 2^kSubBits get one bucket each; above, each power of two is split into
// 2^kSubBits equal sub-buckets. 64-bit values need (64 - kSubBits + 1) << kSubBits buckets.
LatencyHistogram::LatencyHistogram() : buckets_((64 - kSubBits + 1) << kSubBits, 0) {}

int LatencyHistogram::BucketOf(uint64_t v) {
  if (v < (1u << kSubBits)) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits
  int shift = msb - kSubBits;
  uint64_t sub = (v >> shift) & ((1u << kSubBits) - 1);
  return ((shift + 1) << kSubBits) + static_cast<int>(sub);
}

uint64_t LatencyHistogram::UpperOf(int bucket) {
  if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
  int shift = (bucket >> kSubBits) - 1;
  uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBits) - 1));
  uint64_t low = ((uint64_t{1} << kSubBits) | sub) << shift;
  return low + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t value_ns) {
  if (value_ns < 0) value_ns = 0;
  buckets_[BucketOf(static_cast<uint64_t>(value_ns))]++;
  count_++;
  sum_ns_ += value_ns;
  if (value_ns > max_ns_) max_ns_ = value_ns;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  if (other.max_ns_ > max_ns_) max_ns_ = other.max_ns_;
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5);
  if (rank < 1) rank = 1;
  if (rank > count_) rank = count_;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t upper = UpperOf(static_cast<int>(i));
      return static_cast<int64_t>(upper) > max_ns_ ? max_ns_ : static_cast<int64_t>(upper);
    }
  }
  return max_ns_;
}

void SequenceTracker::Observe(uint32_t seq) {
  size_t word = seq / 64;
  if (word >= seen_.size()) seen_.resize(word + 1 + seen_.size() / 2, 0);
  uint64_t bit = uint64_t{1} << (seq % 64);
  if (seen_[word] & bit) {
    duplicates_++;
    return;
  }
  seen_[word] |= bit;
  unique_++;
  if (static_cast<int64_t>(seq) < highest_) {
    out_of_order_++;
  } else {
    highest_ = seq;
  }
}

namespace {
void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
}  // namespace

void WriteProbe(const Probe& probe, char* payload) {
  PutU32(payload, probe.publisher);
  PutU32(payload + 4, probe.seq);
  uint64_t t = static_cast<uint64_t>(probe.sent_ns);
  PutU32(payload + 8, static_cast<uint32_t>(t >> 32));
  PutU32(payload + 12, static_cast<uint32_t>(t));
}

bool ReadProbe(std::string_view payload, Probe* probe) {
  if (payload.size() < kProbeBytes) return false;
  const char* p = payload.data();
  probe->publisher = GetU32(p);
  probe->seq = GetU32(p + 4);
  probe->sent_ns = static_cast<int64_t>((uint64_t{GetU32(p + 8)} << 32) | GetU32(p + 12));
  return true;
}

std::string FormatNs(int64_t ns) {
  char buf[32];
  if (ns < 10'000) {
    std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(ns));
  } else if (ns < 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fus", ns / 1e3);
  } else if (ns < 10'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fms", ns / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", ns / 1e9);
  }
  return buf;
}

}  // namespace sluice::bench
