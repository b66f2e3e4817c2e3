// Topic levels (MQTT 5 section 4.7.1): the parts of a topic name or filter between '/'.
// "a//b" has the levels "a", "", "b"; "" has one empty level; "/" has two. The one splitter
// of the code base: tries, validation, matching, the ACL index, the partitioner and the bridge
// walk levels with it.
// Pure, allocation-free, thread-safe.
#ifndef SLUICE_MQTT_TOPIC_LEVELS_H_
#define SLUICE_MQTT_TOPIC_LEVELS_H_

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace sluice::topic {

// The level of `topic` that starts at `pos` (a level boundary, at most topic.size()). Sets
// *next to where the following level starts, or npos when this was the last level. Walks with
// explicit positions (the tries keep them on their own stacks) use this; others LevelCursor.
inline std::string_view LevelFrom(std::string_view topic, size_t pos, size_t* next) {
  const size_t end = topic.find('/', pos);
  if (end == std::string_view::npos) {
    *next = std::string_view::npos;
    return topic.substr(pos);
  }
  *next = end + 1;
  return topic.substr(pos, end - pos);
}

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
    size_t next = 0;
    *level = LevelFrom(s_, pos_, &next);
    if (next == std::string_view::npos) {
      done_ = true;
      last_ = true;
    } else {
      pos_ = next;
    }
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

// The first `n` levels (n >= 1) with the '/' between them: ("a/b/c", 2) is "a/b"; the whole
// topic when it has at most `n` levels.
inline std::string_view FirstLevels(std::string_view topic, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t next = 0;
    LevelFrom(topic, pos, &next);
    if (next == std::string_view::npos) return topic;
    pos = next;
  }
  return topic.substr(0, pos - 1);
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
