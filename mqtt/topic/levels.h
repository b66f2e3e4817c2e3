// Topic levels (MQTT 5 section 4.7.1): the parts of a topic name or filter between '/'.
// "a//b" has the levels "a", "", "b"; "" has one empty level; "/" has two. The one splitter
// of the code base: tries, validation, the ACL index and the bridge walk levels with it.
// Pure, allocation-free, thread-safe.
#ifndef SLUICE_MQTT_TOPIC_LEVELS_H_
#define SLUICE_MQTT_TOPIC_LEVELS_H_

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace sluice::topic {

// Walks the levels of a topic in order:
//   LevelCursor c(topic);
//   for (std::string_view level; c.Next(&level);) ...
// After the last level, Next returns false; `last()` tells whether the level just returned
// was the final one, and `rest()` is what follows it (without the separating '/').
class LevelCursor {
 public:
  explicit LevelCursor(std::string_view topic) : s_(topic) {}

  bool Next(std::string_view* level) {
    if (done_) return false;
    size_t end = s_.find('/', pos_);
    if (end == std::string_view::npos) {
      *level = s_.substr(pos_);
      done_ = true;
      last_ = true;
      return true;
    }
    *level = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool last() const { return last_; }
  std::string_view rest() const { return done_ ? std::string_view() : s_.substr(pos_); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  bool done_ = false;
  bool last_ = false;
};

// The number of levels (at least 1).
inline size_t CountLevels(std::string_view topic) {
  return static_cast<size_t>(std::count(topic.begin(), topic.end(), '/')) + 1;
}

// Level `n` (0-based), or nullopt when the topic has fewer levels.
inline std::optional<std::string_view> LevelAt(std::string_view topic, size_t n) {
  LevelCursor c(topic);
  std::string_view level;
  for (size_t i = 0; c.Next(&level); ++i)
    if (i == n) return level;
  return std::nullopt;
}

// Calls fn(std::string_view level) for each level in order.
template <typename Fn>
void ForEachLevel(std::string_view topic, Fn&& fn) {
  LevelCursor c(topic);
  for (std::string_view level; c.Next(&level);) fn(level);
}

// The levels as views into `topic`.
inline std::vector<std::string_view> SplitLevels(std::string_view topic) {
  std::vector<std::string_view> out;
  ForEachLevel(topic, [&](std::string_view level) { out.push_back(level); });
  return out;
}

}  // namespace sluice::topic

#endif  // SLUICE_MQTT_TOPIC_LEVELS_H_
