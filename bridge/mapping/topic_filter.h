// MQTT topic filter matching for the bridge's rules: pure, thread-safe. The bridge keeps its own
// small matcher so that it depends on base/ and storage/ only, not on broker/.
#ifndef SLUICE_BRIDGE_MAPPING_TOPIC_FILTER_H_
#define SLUICE_BRIDGE_MAPPING_TOPIC_FILTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace sluice::bridge {

// InvalidArgument unless `filter` is a valid MQTT topic filter ('#' last and alone in its
// level, '+' alone in its level, not empty). Shared subscriptions ($share/...) are refused:
// a bridge rule sees every record of the log.
absl::Status ValidateTopicFilter(std::string_view filter);

// MQTT matching rules (MQTT 5 section 4.7): '+' one level, '#' this level and below (also the
// parent: "a/#" matches "a"); a filter starting with a wildcard does not match a '$' topic.
bool TopicMatches(std::string_view filter, std::string_view topic);

// The levels of a topic, split on '/' (an empty topic has one empty level).
std::vector<std::string_view> TopicLevels(std::string_view topic);

}  // namespace sluice::bridge

#endif  // SLUICE_BRIDGE_MAPPING_TOPIC_FILTER_H_
