// Measurement primitives of the load generator, free of I/O so they can be unit tested:
//  - LatencyHistogram: log-linear buckets (HDR-style, ~1.6% relative error) over
//    nanoseconds, with percentiles and merge.
//  - SequenceTracker: what one sink (a subscriber, or a shared-subscription group) got from
//    one publisher: unique, duplicate and out-of-order messages; lost = sent - unique.
//  - Probe payload: publisher id, sequence number and send time packed into the first 16
//    bytes of every payload (the rest is filler), so any receiver can check it.
// Thread-compatible; the load generator is single-threaded.
#ifndef SLUICE_TOOLS_BENCH_STATS_H_
#define SLUICE_TOOLS_BENCH_STATS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();
  void Record(int64_t value_ns);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  int64_t max_ns() const { return max_ns_; }
  double mean_ns() const { return count_ ? static_cast<double>(sum_ns_) / count_ : 0.0; }
  // Upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  int64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static int BucketOf(uint64_t v);
  static uint64_t UpperOf(int bucket);
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t sum_ns_ = 0;
  int64_t max_ns_ = 0;
};

class SequenceTracker {
 public:
  // Sequence numbers start at 0 and are dense per publisher.
  void Observe(uint32_t seq);
  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t out_of_order() const { return out_of_order_; }
  // Sequences below `sent` never seen.
  uint64_t Lost(uint64_t sent) const { return sent > unique_ ? sent - unique_ : 0; }

 private:
  std::vector<uint64_t> seen_;  // bitmap
  uint64_t unique_ = 0, duplicates_ = 0, out_of_order_ = 0;
  int64_t highest_ = -1;
};

inline constexpr size_t kProbeBytes = 16;

struct Probe {
  uint32_t publisher = 0;
  uint32_t seq = 0;
  int64_t sent_ns = 0;
};

// Writes the probe into payload[0..16). payload must hold at least kProbeBytes.
void WriteProbe(const Probe& probe, char* payload);
// False when the payload is shorter than a probe.
bool ReadProbe(std::string_view payload, Probe* probe);

// "12.3us" style, for humans.
std::string FormatNs(int64_t ns);

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_STATS_H_
