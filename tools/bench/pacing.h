// Pacing primitives of the load generator, free of I/O and clocks (time is passed in) so
// they can be unit tested:
//  - SpreadPacer: a fixed rate per client with the clients' sends spread evenly over the
//    period (the `devices` scenario). Global slot j is due at j / (clients x rate) seconds
//    and belongs to client j % clients, so client i sends at i / (clients x rate) + k / rate:
//    every client at exactly its own rate, and no two clients in the same instant unless the
//    total rate demands it. A slot the caller cannot use is skipped, never given to another
//    client (that would change the per-client rate).
//  - TokenBucket: bytes per second with a burst, for a subscriber that reads its socket
//    slowly on purpose (the `slow-subscriber` scenario).
// Thread-compatible. Errors: none; constructors clamp nonsensical arguments (a rate <= 0
// means "nothing is ever due" / "unlimited" as documented per class).
#ifndef SLUICE_TOOLS_BENCH_PACING_H_
#define SLUICE_TOOLS_BENCH_PACING_H_

#include <cstdint>

namespace sluice::bench {

class SpreadPacer {
 public:
  // rate_per_client_per_s <= 0 or clients == 0: no slot is ever due. Slots due more than
  // max_lag_ns before the time asked about are skipped (counted), so a generator that fell
  // behind does not send a burst to catch up.
  SpreadPacer(uint32_t clients, double rate_per_client_per_s, int64_t max_lag_ns);

  struct Batch {
    uint64_t first_slot = 0;  // send slots [first_slot, end_slot) now
    uint64_t end_slot = 0;
    uint64_t skipped = 0;     // slots given up on in this call (too late)
  };
  // The slots due by elapsed_ns (time since the run started) not handed out before; each
  // slot is handed out (or skipped) exactly once over successive calls with growing times.
  Batch Due(int64_t elapsed_ns);

  uint32_t ClientOf(uint64_t slot) const { return clients_ ? slot % clients_ : 0; }
  // When `slot` is due, relative to the start of the run.
  int64_t DueNs(uint64_t slot) const;
  double total_rate_per_s() const { return total_rate_per_s_; }

 private:
  // Number of slots due by elapsed_ns: slot 0 is due at 0.
  uint64_t DueCount(int64_t elapsed_ns) const;

  uint32_t clients_;
  double total_rate_per_s_;
  int64_t max_lag_ns_;
  uint64_t next_slot_ = 0;
};

class TokenBucket {
 public:
  // rate_per_s <= 0: unlimited (Available() is always `burst`, or INT64_MAX if burst <= 0).
  // The bucket starts full.
  TokenBucket(int64_t rate_per_s, int64_t burst, int64_t now_ns);

  // Refills up to now_ns and returns the tokens available (never more than burst).
  int64_t Available(int64_t now_ns);
  void Take(int64_t n);
  // Time from now_ns until `n` tokens (capped at burst) will be available; 0 if they are.
  int64_t NsUntil(int64_t n, int64_t now_ns);
  bool limited() const { return rate_per_s_ > 0; }

 private:
  int64_t rate_per_s_;
  int64_t burst_;
  double tokens_;
  int64_t last_ns_;
};

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_PACING_H_
