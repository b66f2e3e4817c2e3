#include "bridge/mapping/topic_filter.h"

#include <string>

namespace sluice::bridge {

std::vector<std::string_view> TopicLevels(std::string_view topic) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

absl::Status ValidateTopicFilter(std::string_view filter) {
  if (filter.empty()) return absl::InvalidArgumentError("empty topic filter");
  if (filter.substr(0, 7) == "$share/") {
    return absl::InvalidArgumentError("shared subscription filters are not allowed in a bridge rule: " +
                                      std::string(filter));
  }
  if (filter.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("topic filter contains NUL");
  }
  std::vector<std::string_view> levels = TopicLevels(filter);
  for (size_t i = 0; i < levels.size(); ++i) {
    std::string_view l = levels[i];
    if (l.find('#') != std::string_view::npos && (l != "#" || i + 1 != levels.size())) {
      return absl::InvalidArgumentError("'#' must be the whole last level: " + std::string(filter));
    }
    if (l.find('+') != std::string_view::npos && l != "+") {
      return absl::InvalidArgumentError("'+' must be a whole level: " + std::string(filter));
    }
  }
  return absl::OkStatus();
}

bool TopicMatches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  size_t f = 0, t = 0;
  while (true) {
    size_t f_end = filter.find('/', f);
    std::string_view fl = filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    if (fl == "#") return true;
    if (t > topic.size()) {
      // The topic has no more levels.
      return false;
    }
    size_t t_end = topic.find('/', t);
    std::string_view tl = topic.substr(t, t_end == std::string_view::npos ? std::string_view::npos : t_end - t);
    if (fl != "+" && fl != tl) return false;
    bool f_last = f_end == std::string_view::npos;
    bool t_last = t_end == std::string_view::npos;
    if (f_last && t_last) return true;
    if (f_last) return false;
    if (t_last) {
      // Only "a/#" may match "a": the rest of the filter must be exactly "#".
      return filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

}  // namespace sluice::bridge
