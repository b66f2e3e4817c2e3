#include "bridge/mapping/rules.h"

#include <charconv>

#include "absl/status/status.h"
#include "base/status.h"
#include "mqtt/codec/codec.h"
#include "mqtt/topic/levels.h"
#include "mqtt/topic/topic.h"

namespace sluice::bridge {
namespace {

constexpr size_t kKafkaTopicMax = 249;

bool IsKafkaChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string_view Level(std::string_view topic, int n) {
  return topic::LevelAt(topic, static_cast<size_t>(n)).value_or(std::string_view());
}

int LevelCount(std::string_view topic) { return static_cast<int>(topic::CountLevels(topic)); }

}  // namespace

bool IsValidKafkaTopic(std::string_view name) {
  if (name.empty() || name.size() > kKafkaTopicMax || name == "." || name == "..") return false;
  for (char c : name) {
    if (!IsKafkaChar(c)) return false;
  }
  return true;
}

bool IsValidRuleName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!IsKafkaChar(c)) return false;
  }
  return true;
}

absl::StatusOr<Template> Template::Parse(std::string_view text, Kind kind) {
  if (text.empty()) return absl::InvalidArgumentError("empty template");
  Template t;
  t.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.pieces_.push_back({Part::kText, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError("unbalanced '}' in template \"" + t.text_ + "\"");
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal.push_back('{');
      ++i;
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("unclosed '{' in template \"" + t.text_ + "\"");
    }
    std::string_view name = text.substr(i + 1, close - i - 1);
    flush();
    Piece p{Part::kText, ""};
    int level = 0;
    auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), level);
    bool numeric = !name.empty() && ec == std::errc() && ptr == name.data() + name.size();
    if (kind == Kind::kKafkaTopic && numeric && level >= 0 && level < 64) {
      p.part = Part::kLevel;
      p.level = level;
      t.max_level_ = std::max(t.max_level_, level);
    } else if (name == "topic") {
      p.part = Part::kTopic;
    } else if (kind == Kind::kKafkaTopic && name == "publisher") {
      p.part = Part::kPublisher;
    } else if (kind == Kind::kMqttTopic && name == "key") {
      p.part = Part::kKey;
    } else if (kind == Kind::kMqttTopic && name == "partition") {
      p.part = Part::kPartition;
    } else {
      return absl::InvalidArgumentError(
          "unknown placeholder {" + std::string(name) + "} in template \"" + t.text_ +
          (kind == Kind::kKafkaTopic ? "\" (known: {0}..{63}, {topic}, {publisher})"
                                     : "\" (known: {topic}, {key}, {partition})"));
    }
    t.pieces_.push_back(std::move(p));
    i = close;
  }
  flush();
  if (kind == Kind::kKafkaTopic && t.max_level_ < 0) {
    // A fixed Kafka topic must itself be legal (a template with placeholders is checked per
    // record, after sanitising).
    bool fixed = true;
    for (const Piece& p : t.pieces_) fixed = fixed && p.part == Part::kText;
    if (fixed && !IsValidKafkaTopic(t.text_)) {
      return absl::InvalidArgumentError("\"" + t.text_ +
                                        "\" is not a valid Kafka topic name ([A-Za-z0-9._-]{1,249})");
    }
  }
  if (kind == Kind::kMqttTopic) {
    for (const Piece& p : t.pieces_) {
      if (p.part == Part::kText && p.text.find_first_of("+#") != std::string::npos) {
        return absl::InvalidArgumentError("MQTT topic template \"" + t.text_ +
                                          "\" contains a wildcard");
      }
    }
  }
  return t;
}

absl::StatusOr<std::string> Template::RenderKafkaTopic(std::string_view mqtt_topic,
                                                       std::string_view publisher) const {
  std::string out;
  for (const Piece& p : pieces_) {
    switch (p.part) {
      case Part::kText: out += p.text; break;
      case Part::kLevel:
        if (p.level >= LevelCount(mqtt_topic)) {
          return absl::InvalidArgumentError("topic \"" + std::string(mqtt_topic) + "\" has no level " +
                                            std::to_string(p.level));
        }
        out += Level(mqtt_topic, p.level);
        break;
      case Part::kTopic:
        for (char c : mqtt_topic) out.push_back(c == '/' ? '.' : c);
        break;
      case Part::kPublisher: out += publisher; break;
      default: break;
    }
  }
  for (char& c : out) {
    if (!IsKafkaChar(c)) c = '_';
  }
  if (!IsValidKafkaTopic(out)) {
    return absl::InvalidArgumentError("template \"" + text_ + "\" gives the invalid Kafka topic \"" +
                                      out + "\" for MQTT topic \"" + std::string(mqtt_topic) + "\"");
  }
  return out;
}

absl::StatusOr<std::string> Template::RenderMqttTopic(const ConsumedRecord& record) const {
  std::string out;
  for (const Piece& p : pieces_) {
    switch (p.part) {
      case Part::kText: out += p.text; break;
      case Part::kTopic: out += record.topic; break;
      case Part::kPartition: out += std::to_string(record.partition); break;
      case Part::kKey:
        if (!record.key || record.key->empty()) {
          return absl::InvalidArgumentError("record has no key for template \"" + text_ + "\"");
        }
        if (record.key->find_first_of(std::string_view("+#\0", 3)) != std::string::npos) {
          return absl::InvalidArgumentError("record key contains '+', '#' or NUL");
        }
        out += *record.key;
        break;
      default: break;
    }
  }
  if (out.empty() || out.size() > 65535) return absl::InvalidArgumentError("bad MQTT topic length");
  return out;
}

absl::StatusOr<KeySpec> ParseKeySpec(std::string_view text) {
  if (text == "none") return KeySpec{KeySource::kNone};
  if (text == "topic") return KeySpec{KeySource::kTopic};
  if (text == "publisher" || text == "client_id") return KeySpec{KeySource::kPublisher};
  if (text.substr(0, 6) == "level:") {
    std::string_view n = text.substr(6);
    int level = -1;
    auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), level);
    if (!n.empty() && ec == std::errc() && ptr == n.data() + n.size() && level >= 0 && level < 64) {
      return KeySpec{KeySource::kLevel, level};
    }
  }
  return absl::InvalidArgumentError("key must be one of none, topic, publisher, level:N (0-based); got \"" +
                                    std::string(text) + "\"");
}

bool MqttToKafkaRule::Matches(std::string_view name) const {
  for (const std::string& f : filters) {
    if (topic::Matches(f, name)) return true;
  }
  return false;
}

absl::Status ValidateRuleFilter(std::string_view filter) {
  if (filter.empty()) return absl::InvalidArgumentError("empty topic filter");
  if (filter.substr(0, 7) == "$share/") {
    return absl::InvalidArgumentError(
        "shared subscription filters are not allowed in a bridge rule: " + std::string(filter));
  }
  if (filter.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("topic filter contains NUL");
  }
  if (!topic::IsValidTopicFilter(filter)) {
    return absl::InvalidArgumentError(
        "not a valid topic filter ('#' only as the whole last level, '+' a whole level): " +
        std::string(filter));
  }
  return absl::OkStatus();
}

absl::StatusOr<mqtt::Properties> DecodeRecordProperties(std::string_view stored) {
  mqtt::Properties props;
  mqtt::CodecError error;
  if (!mqtt::DecodeStoredProperties(stored, &props, &error)) {
    return absl::DataLossError("log record with malformed MQTT properties: " + error.message);
  }
  return props;
}

absl::StatusOr<KafkaRecord> MapToKafka(const MqttToKafkaRule& rule, const storage::Record& record,
                                       PartitionId partition, Offset offset) {
  KafkaRecord out;
  ASSIGN_OR_RETURN(out.topic, rule.kafka_topic.RenderKafkaTopic(record.topic, record.publisher));
  switch (rule.key.source) {
    case KeySource::kNone: break;
    case KeySource::kTopic: out.key = record.topic; break;
    case KeySource::kPublisher: out.key = record.publisher; break;
    case KeySource::kLevel:
      if (rule.key.level >= LevelCount(record.topic)) {
        return absl::InvalidArgumentError("topic \"" + record.topic + "\" has no level " +
                                          std::to_string(rule.key.level) + " for the key");
      }
      out.key = std::string(Level(record.topic, rule.key.level));
      break;
  }
  out.value = record.payload;
  out.timestamp_ms = record.timestamp_ms;
  if (rule.mqtt_headers) {
    ASSIGN_OR_RETURN(mqtt::Properties props, DecodeRecordProperties(record.properties));
    out.headers.emplace_back(kHeaderTopic, record.topic);
    out.headers.emplace_back(kHeaderQos, std::to_string(record.qos));
    out.headers.emplace_back(kHeaderRetain, record.retain ? "true" : "false");
    out.headers.emplace_back(kHeaderPublisher, record.publisher);
    if (props.content_type) out.headers.emplace_back(kHeaderContentType, *props.content_type);
    if (props.payload_format_indicator) {
      out.headers.emplace_back(kHeaderPayloadFormat, *props.payload_format_indicator ? "utf8" : "bytes");
    }
    if (props.response_topic) out.headers.emplace_back(kHeaderResponseTopic, *props.response_topic);
    if (props.correlation_data) {
      out.headers.emplace_back(kHeaderCorrelationData, *props.correlation_data);
    }
    for (auto& [k, v] : props.user_properties) {
      out.headers.emplace_back(rule.user_property_prefix + k, std::move(v));
    }
  }
  out.headers.emplace_back(kHeaderLogPartition, std::to_string(partition.value()));
  out.headers.emplace_back(kHeaderLogOffset, std::to_string(offset.value()));
  return out;
}

absl::StatusOr<MqttMessage> MapToMqtt(const KafkaToMqttRule& rule, const ConsumedRecord& record) {
  MqttMessage m;
  ASSIGN_OR_RETURN(m.topic, rule.mqtt_topic.RenderMqttTopic(record));
  m.payload = record.value;
  m.qos = rule.qos;
  m.retain = rule.retain;
  if (rule.headers_to_user_properties) {
    for (const auto& [k, v] : record.headers) {
      if (k == kHeaderContentType) {
        m.content_type = v;
      } else if (k.rfind("mqtt.", 0) != 0 && k.rfind("sluice.", 0) != 0) {
        m.user_properties.emplace_back(k, v);
      }
    }
  }
  return m;
}

}  // namespace sluice::bridge
