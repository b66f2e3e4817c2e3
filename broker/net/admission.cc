#include "broker/net/admission.h"

#include <algorithm>

#include "base/log.h"

namespace sluice::net {


std::shared_ptr<void> Admission::TryAdmit(const std::string& address) {
  if (limits_.max_connections <= 0 && limits_.max_connections_per_address <= 0 &&
      limits_.max_connection_rate <= 0) {
    return std::shared_ptr<void>(std::shared_ptr<void>(), static_cast<void*>(this));
  }
  enum class Refusal { kNone, kRate, kTotal, kAddress } refusal = Refusal::kNone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (limits_.max_connection_rate > 0) {
      const int64_t now_ms = clock_->NowMs();
      const double rate = static_cast<double>(limits_.max_connection_rate);
      if (tokens_ < 0) {
        tokens_ = rate;  // burst: one second's worth
      } else {
        const double elapsed_s = static_cast<double>(now_ms - refill_at_ms_) / 1000.0;
        tokens_ = std::min(rate, tokens_ + elapsed_s * rate);
      }
      refill_at_ms_ = now_ms;
      if (tokens_ < 1) refusal = Refusal::kRate;
    }
    if (refusal == Refusal::kNone && limits_.max_connections > 0 &&
        open_ >= limits_.max_connections)
      refusal = Refusal::kTotal;
    if (refusal == Refusal::kNone && limits_.max_connections_per_address > 0) {
      auto it = per_address_.find(address);
      if (it != per_address_.end() && it->second >= limits_.max_connections_per_address)
        refusal = Refusal::kAddress;
    }
    if (refusal == Refusal::kNone) {
      if (limits_.max_connection_rate > 0) tokens_ -= 1;
      if (limits_.max_connections > 0 || limits_.max_connections_per_address > 0) ++open_;
      if (limits_.max_connections_per_address > 0) ++per_address_[address];
    }
  }
  switch (refusal) {
    case Refusal::kNone:
      if (limits_.max_connections <= 0 && limits_.max_connections_per_address <= 0) {
        // Nothing to give back at close: a ticket that owns nothing (no allocation, nothing
        // kept per connection).
        return std::shared_ptr<void>(std::shared_ptr<void>(), static_cast<void*>(this));
      }
      return std::shared_ptr<void>(static_cast<void*>(this),
                                   [this, address](void*) { Release(address); });
    case Refusal::kRate:
      refused_rate_.fetch_add(1, std::memory_order_relaxed);
      refused_total_.fetch_add(1, std::memory_order_relaxed);
      LogRefusal("connection rate limit (max_connection_rate)", address, &log_rate_s_);
      break;
    case Refusal::kTotal:
      refused_total_.fetch_add(1, std::memory_order_relaxed);
      LogRefusal("connection limit (max_connections)", address, &log_total_s_);
      break;
    case Refusal::kAddress:
      refused_per_address_.fetch_add(1, std::memory_order_relaxed);
      refused_total_.fetch_add(1, std::memory_order_relaxed);
      LogRefusal("per-address connection limit (max_connections_per_address)", address,
                 &log_address_s_);
      break;
  }
  return nullptr;
}

void Admission::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  if (limits_.max_connections_per_address > 0) {
    auto it = per_address_.find(address);
    if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
  }
}

void Admission::LogRefusal(const char* what, const std::string& address,
                           std::atomic<int64_t>* last_log_s) {
  int64_t now = clock_->NowMs() / 1000;
  int64_t last = last_log_s->load(std::memory_order_relaxed);
  if (now == last || !last_log_s->compare_exchange_strong(last, now)) return;
  SLOG(kWarn).Kv("peer", address).Kv("refused_total", refused_total_.load())
      << "connection refused: " << what;
}

Admission::Counts Admission::counts() const {
  Counts c;
  c.refused_total = refused_total_.load();
  c.refused_per_address = refused_per_address_.load();
  c.refused_rate = refused_rate_.load();
  std::lock_guard<std::mutex> lock(mu_);
  c.open = static_cast<uint64_t>(open_);
  return c;
}

}  // namespace sluice::net
