#include "tools/bench/pacing.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sluice::bench {

SpreadPacer::SpreadPacer(uint32_t clients, double rate_per_client_per_s, int64_t max_lag_ns)
    : clients_(clients),
      total_rate_per_s_(clients > 0 && rate_per_client_per_s > 0
                            ? clients * rate_per_client_per_s
                            : 0.0),
      max_lag_ns_(std::max<int64_t>(0, max_lag_ns)) {}

uint64_t SpreadPacer::DueCount(int64_t elapsed_ns) const {
  if (total_rate_per_s_ <= 0 || elapsed_ns < 0) return 0;
  // Doubles are exact enough: an hour at 1e8/s is 3.6e11 slots, far below 2^53.
  return static_cast<uint64_t>(
             std::floor(static_cast<double>(elapsed_ns) * total_rate_per_s_ / 1e9)) +
         1;
}

int64_t SpreadPacer::DueNs(uint64_t slot) const {
  if (total_rate_per_s_ <= 0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::ceil(static_cast<double>(slot) * 1e9 / total_rate_per_s_));
}

SpreadPacer::Batch SpreadPacer::Due(int64_t elapsed_ns) {
  Batch batch;
  const uint64_t end = DueCount(elapsed_ns);
  if (end <= next_slot_) {
    batch.first_slot = batch.end_slot = next_slot_;
    return batch;
  }
  // Slots due before this are too late to send: skip them rather than burst.
  const uint64_t keep_from = DueCount(elapsed_ns - max_lag_ns_ - 1);
  if (keep_from > next_slot_) {
    batch.skipped = keep_from - next_slot_;
    next_slot_ = keep_from;
  }
  batch.first_slot = next_slot_;
  batch.end_slot = end;
  next_slot_ = end;
  return batch;
}

TokenBucket::TokenBucket(int64_t rate_per_s, int64_t burst, int64_t now_ns)
    : rate_per_s_(rate_per_s),
      burst_(burst > 0 ? burst : std::numeric_limits<int64_t>::max()),
      tokens_(static_cast<double>(burst_)),
      last_ns_(now_ns) {}

int64_t TokenBucket::Available(int64_t now_ns) {
  if (rate_per_s_ <= 0) return burst_;
  if (now_ns > last_ns_) {
    tokens_ = std::min<double>(static_cast<double>(burst_),
                               tokens_ + static_cast<double>(now_ns - last_ns_) *
                                             static_cast<double>(rate_per_s_) / 1e9);
    last_ns_ = now_ns;
  }
  return tokens_ > 0 ? static_cast<int64_t>(tokens_) : 0;
}

void TokenBucket::Take(int64_t n) {
  if (rate_per_s_ <= 0) return;
  tokens_ -= static_cast<double>(n);  // may go negative: a debt repaid before the next read
}

int64_t TokenBucket::NsUntil(int64_t n, int64_t now_ns) {
  if (rate_per_s_ <= 0) return 0;
  const double want = static_cast<double>(std::min(n, burst_));
  const double have = static_cast<double>(Available(now_ns));
  if (have >= want) return 0;
  return static_cast<int64_t>(std::ceil((want - tokens_) * 1e9 / static_cast<double>(rate_per_s_)));
}

}  // namespace sluice::bench
