// Structured, levelled logging to stderr, one line per record in logfmt:
//   2026-11-22T10:00:00.123Z INFO broker/server.cc:88 client connected client_id=dev1 shard=0
// The level changes at runtime (SetLevel) and is read with one relaxed atomic load, so a
// disabled log statement costs a branch. Thread-safe: each record is written with one call.
#ifndef SLUICE_BASE_LOG_H_
#define SLUICE_BASE_LOG_H_

#include <atomic>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

extern std::atomic<int> g_min_level;

inline bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}
void SetLevel(Level level);
Level GetLevel();
// Parses "debug", "info", "warn", "error", "off".
absl::StatusOr<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);

// Accumulates one record and writes it when destroyed.
class Record {
 public:
  Record(Level level, const char* file, int line);
  ~Record();
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  template <typename T>
  Record& operator<<(const T& value) {
    message_ << value;
    return *this;
  }
  // Appends key=value; values with spaces, quotes or '=' are quoted.
  template <typename T>
  Record& Kv(std::string_view key, const T& value) {
    std::ostringstream os;
    os << value;
    AppendField(key, os.str());
    return *this;
  }

 private:
  void AppendField(std::string_view key, std::string_view value);
  Level level_;
  const char* file_;
  int line_;
  std::ostringstream message_;
  std::string fields_;
};

// Turns the streamed Record into void for the conditional below (the glog idiom), so that
// SLOG is one expression: safe inside an unbraced if/else.
struct Voidify {
  void operator&(Record&) {}
};

}  // namespace sluice::log

#define SLOG(level)                                                       \
  !::sluice::log::Enabled(::sluice::log::Level::level)                    \
      ? (void)0                                                           \
      : ::sluice::log::Voidify() &                                        \
            ::sluice::log::Record(::sluice::log::Level::level, __FILE__, __LINE__)

#endif  // SLUICE_BASE_LOG_H_
