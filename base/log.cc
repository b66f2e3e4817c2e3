#include "base/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace sluice::log {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};

void SetLevel(Level level) { g_min_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_min_level.load()); }

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  return absl::InvalidArgumentError("unknown log level '" + std::string(name) +
                                    "' (expected debug, info, warn, error or off)");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
    case Level::kOff: return "OFF";
  }
  return "?";
}

Record::Record(Level level, const char* file, int line) : level_(level), file_(file), line_(line) {}

void Record::AppendField(std::string_view key, std::string_view value) {
  fields_ += ' ';
  fields_ += key;
  fields_ += '=';
  bool quote = value.empty() || value.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (!quote) {
    fields_ += value;
    return;
  }
  fields_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') fields_ += '\\';
    if (c == '\n') {
      fields_ += "\\n";
      continue;
    }
    fields_ += c;
  }
  fields_ += '"';
}

Record::~Record() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm utc;
  gmtime_r(&tv.tv_sec, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  std::string line;
  line.reserve(128 + fields_.size());
  line += stamp;
  line += ' ';
  line += LevelName(level_);
  line += ' ';
  line += file_;
  line += ':';
  line += std::to_string(line_);
  line += ' ';
  line += message_.str();
  line += fields_;
  line += '\n';
  // One write(2) per record keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace sluice::log
