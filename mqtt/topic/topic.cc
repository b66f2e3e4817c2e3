#include "mqtt/topic/topic.h"

namespace sluice::topic {

bool IsValidTopicName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicBytes) return false;
  return name.find_first_of("+#") == std::string_view::npos;
}

bool IsValidTopicFilter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes) return false;
  size_t start = 0;
  while (true) {
    size_t end = filter.find('/', start);
    std::string_view level =
        filter.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find_first_of("+#") != std::string_view::npos) {
      if (level.size() != 1) return false;
      if (level == "#" && end != std::string_view::npos) return false;
    }
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

bool ParseFilter(std::string_view text, ParsedFilter* out) {
  constexpr std::string_view kShare = "$share/";
  if (text.substr(0, kShare.size()) != kShare) {
    *out = {{}, text, false};
    return IsValidTopicFilter(text);
  }
  std::string_view rest = text.substr(kShare.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view group = rest.substr(0, slash);
  if (group.find_first_of("+#") != std::string_view::npos) return false;
  *out = {group, rest.substr(slash + 1), true};
  return IsValidTopicFilter(out->filter);
}

bool HasWildcard(std::string_view filter) {
  return filter.find_first_of("+#") != std::string_view::npos;
}

bool Matches(std::string_view filter, std::string_view name) {
  if (!name.empty() && name[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#'))
    return false;
  size_t f = 0, n = 0;
  while (true) {
    size_t f_end = filter.find('/', f);
    std::string_view f_level = filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    if (f_level == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (n > name.size()) return false;
    size_t n_end = name.find('/', n);
    std::string_view n_level = name.substr(n, n_end == std::string_view::npos ? std::string_view::npos : n_end - n);
    if (f_level != "+" && f_level != n_level) return false;
    bool f_last = f_end == std::string_view::npos;
    bool n_last = n_end == std::string_view::npos;
    if (f_last || n_last) {
      if (f_last && n_last) return true;
      // "a/#" matches "a": the filter has one more level, and it is "#".
      return n_last && !f_last && filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    n = n_end + 1;
  }
}

}  // namespace sluice::topic
