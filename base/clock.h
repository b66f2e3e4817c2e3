// Time as an interface, so pure state machines and simulators never read the wall clock.
// SystemClock is thread-safe; ManualClock is thread-compatible (tests drive it).
#ifndef SLUICE_BASE_CLOCK_H_
#define SLUICE_BASE_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds since an arbitrary epoch; never goes backwards.
  virtual int64_t NowMs() const = 0;
  // The same monotonic clock in microseconds (durations measured for histograms). A clock
  // without a finer resolution (ManualClock) reports NowMs() * 1000.
  virtual int64_t NowUs() const { return NowMs() * 1000; }
  // Wall-clock milliseconds since the Unix epoch (for record timestamps).
  virtual int64_t WallMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t NowUs() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance.
  static SystemClock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_; }
  int64_t WallMs() const override { return now_ms_; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void SetMs(int64_t ms) { now_ms_ = ms; }

 private:
  int64_t now_ms_;
};

}  // namespace sluice

#endif  // SLUICE_BASE_CLOCK_H_
