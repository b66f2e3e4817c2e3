#include "mqtt/topic/topic.h"

#include "mqtt/topic/levels.h"

namespace sluice::topic {

bool IsValidTopicName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicBytes) return false;
  return name.find_first_of("+#") == std::string_view::npos;
}

bool IsValidTopicFilter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes) return false;
  LevelCursor c(filter);
  for (std::string_view level; c.Next(&level);) {
    if (level.find_first_of("+#") == std::string_view::npos) continue;
    if (level.size() != 1) return false;
    if (level == "#" && !c.last()) return false;
  }
  return true;
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
  LevelCursor f(filter), n(name);
  std::string_view f_level, n_level;
  while (f.Next(&f_level)) {
    if (f_level == "#") return true;  // matches the parent level too ("a/#" matches "a")
    if (!n.Next(&n_level)) return false;
    if (f_level != "+" && f_level != n_level) return false;
    if (f.last() || n.last()) {
      if (f.last() && n.last()) return true;
      // "a/#" matches "a": the filter has one more level, and it is "#".
      return n.last() && f.rest() == "#";
    }
  }
  return false;
}

}  // namespace sluice::topic
