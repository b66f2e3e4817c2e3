// Topic names and filters (MQTT 5 section 4.7): validation, shared-subscription parsing and
// matching of one filter against one name. Pure functions; thread-safe.
#ifndef SLUICE_MQTT_TOPIC_TOPIC_H_
#define SLUICE_MQTT_TOPIC_TOPIC_H_

#include <string_view>

namespace sluice::topic {

// A name clients publish to: non-empty, no '+' or '#', at most kMaxTopicBytes.
bool IsValidTopicName(std::string_view name);

// A filter: non-empty; '#' only as the whole last level; '+' only as a whole level.
bool IsValidTopicFilter(std::string_view filter);

// "$share/{group}/{filter}" split into its parts. `group` is empty for a plain filter.
struct ParsedFilter {
  std::string_view group;
  std::string_view filter;
  bool shared = false;
};
// False when the filter starts with "$share/" but has no valid group (non-empty, no '+',
// '#' or '/') or no valid filter after it.
bool ParseFilter(std::string_view text, ParsedFilter* out);

// True when `filter` (valid) matches `name` (valid), honouring the rule that a filter
// starting with a wildcard does not match a name starting with '$'.
bool Matches(std::string_view filter, std::string_view name);

// True when the filter contains '+' or '#'.
bool HasWildcard(std::string_view filter);

inline constexpr size_t kMaxTopicBytes = 65535;

}  // namespace sluice::topic

#endif  // SLUICE_MQTT_TOPIC_TOPIC_H_
