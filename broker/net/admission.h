// Admission: the connection limits checked when a socket is accepted, before anything is
// allocated for it (no Connection, no TLS state, no buffers): total connections, connections
// per source address, and a token bucket on the rate of new connections. A refused socket is
// closed at once, counted here, and logged (at most one line per second per reason).
//
// Thread-safety: every method from any thread (a mutex guards the per-address counts; the
// total and the bucket share it — one lock per accepted and per closed connection).
#ifndef SLUICE_BROKER_NET_ADMISSION_H_
#define SLUICE_BROKER_NET_ADMISSION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"

namespace sluice::net {

struct AdmissionLimits {
  int64_t max_connections = 0;               // 0 = unlimited
  int64_t max_connections_per_address = 0;   // 0 = unlimited
  int64_t max_connection_rate = 0;           // new connections per second, 0 = unlimited
};

class Admission {
 public:
  // `clock` (not owned, outlives the admission) times the rate limit and the refusal logs.
  explicit Admission(AdmissionLimits limits, const Clock* clock = SystemClock::Get())
      : limits_(limits), clock_(clock) {}

  // A ticket held for the connection's lifetime (its destruction frees the slot), or null
  // when a limit refuses `address` (an IP address without port). Without a total or
  // per-address limit the ticket owns nothing (use_count() == 0): it costs no allocation.
  std::shared_ptr<void> TryAdmit(const std::string& address);

  struct Counts {
    uint64_t refused_total = 0, refused_per_address = 0, refused_rate = 0;
    uint64_t open = 0;  // counted only while a total or per-address limit is set
  };
  Counts counts() const;

 private:
  void Release(const std::string& address);
  void LogRefusal(const char* what, const std::string& address, std::atomic<int64_t>* last_log_s);

  const AdmissionLimits limits_;
  mutable std::mutex mu_;
  int64_t open_ = 0;
  absl::flat_hash_map<std::string, int64_t> per_address_;
  double tokens_ = -1;  // < 0: bucket not initialised
  int64_t refill_at_ms_ = 0;
  const Clock* clock_;
  std::atomic<uint64_t> refused_total_{0}, refused_per_address_{0}, refused_rate_{0};
  std::atomic<int64_t> log_total_s_{0}, log_address_s_{0}, log_rate_s_{0};
};

}  // namespace sluice::net

#endif  // SLUICE_BROKER_NET_ADMISSION_H_
