#include "bridge/mapping/config.h"

#include <set>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "base/status.h"
#include "mqtt/topic/levels.h"

namespace sluice::bridge {
namespace {

absl::Status Error(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(path + ": " + what);
}

// Checks that `node` is a map whose keys are all in `known`.
absl::Status CheckMap(const YAML::Node& node, const std::string& path,
                      const std::set<std::string>& known) {
  if (!node.IsMap()) return Error(path, "expected a map");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!known.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return Error(path + "." + key, "unknown key (known: " + list + ")");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return Error(path, "expected a string");
  return node.as<std::string>();
}

absl::StatusOr<int64_t> GetInt(const YAML::Node& node, const std::string& path, int64_t min,
                               int64_t max) {
  if (!node.IsScalar()) return Error(path, "expected an integer");
  int64_t v;
  if (!YAML::convert<int64_t>::decode(node, v)) return Error(path, "expected an integer, got \"" + node.Scalar() + "\"");
  if (v < min || v > max) {
    return Error(path, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                           std::to_string(v));
  }
  return v;
}

absl::StatusOr<bool> GetBool(const YAML::Node& node, const std::string& path) {
  bool v;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
    return Error(path, "expected true or false");
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> GetStringList(const YAML::Node& node,
                                                       const std::string& path) {
  if (!node.IsSequence()) return Error(path, "expected a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(std::string s, GetString(node[i], path + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  if (out.empty()) return Error(path, "must not be empty");
  return out;
}

absl::StatusOr<StartFrom> GetStartFrom(const YAML::Node& node, const std::string& path) {
  ASSIGN_OR_RETURN(std::string s, GetString(node, path));
  if (s == "earliest") return StartFrom::kEarliest;
  if (s == "latest") return StartFrom::kLatest;
  return Error(path, "expected earliest or latest, got \"" + s + "\"");
}

// Number of levels every topic matched by `filter` is sure to have.
int GuaranteedLevels(const std::string& filter) {
  std::vector<std::string_view> levels = topic::SplitLevels(filter);
  int n = static_cast<int>(levels.size());
  if (levels.back() == "#") --n;  // "a/#" matches "a"
  return n;
}

absl::Status ParseKafka(const YAML::Node& node, const std::string& path, KafkaClientConfig& out) {
  RETURN_IF_ERROR(CheckMap(node, path, {"bootstrap_servers", "client_id", "properties"}));
  if (node["bootstrap_servers"]) {
    ASSIGN_OR_RETURN(out.bootstrap_servers, GetString(node["bootstrap_servers"], path + ".bootstrap_servers"));
  }
  if (node["client_id"]) {
    ASSIGN_OR_RETURN(out.client_id, GetString(node["client_id"], path + ".client_id"));
  }
  if (const YAML::Node props = node["properties"]) {
    if (!props.IsMap()) return Error(path + ".properties", "expected a map of librdkafka properties");
    for (const auto& kv : props) {
      std::string key = kv.first.as<std::string>();
      ASSIGN_OR_RETURN(std::string value, GetString(kv.second, path + ".properties." + key));
      if (key == "bootstrap.servers") {
        return Error(path + ".properties." + key, "use bridge.kafka.bootstrap_servers");
      }
      out.properties.emplace_back(key, value);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseLimits(const YAML::Node& node, const std::string& path, BridgeLimits& l) {
  RETURN_IF_ERROR(CheckMap(node, path,
                           {"inflight_records_max", "read_batch_records", "read_batch_bytes",
                            "commit_interval_ms", "commit_every_records", "backoff_ms_min",
                            "backoff_ms_max", "idle_poll_ms", "stop_timeout_ms"}));
  auto set_u = [&](const char* key, uint64_t& field, int64_t min, int64_t max) -> absl::Status {
    if (!node[key]) return absl::OkStatus();
    ASSIGN_OR_RETURN(int64_t v, GetInt(node[key], path + "." + key, min, max));
    field = static_cast<uint64_t>(v);
    return absl::OkStatus();
  };
  auto set_i = [&](const char* key, int64_t& field, int64_t min, int64_t max) -> absl::Status {
    if (!node[key]) return absl::OkStatus();
    ASSIGN_OR_RETURN(field, GetInt(node[key], path + "." + key, min, max));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(set_u("inflight_records_max", l.inflight_records_max, 1, 1'000'000));
  RETURN_IF_ERROR(set_u("read_batch_records", l.read_batch_records, 1, 100'000));
  RETURN_IF_ERROR(set_u("read_batch_bytes", l.read_batch_bytes, 1024, 1LL << 30));
  RETURN_IF_ERROR(set_i("commit_interval_ms", l.commit_interval_ms, 1, 3'600'000));
  RETURN_IF_ERROR(set_u("commit_every_records", l.commit_every_records, 1, 100'000'000));
  RETURN_IF_ERROR(set_i("backoff_ms_min", l.backoff_ms_min, 1, 600'000));
  RETURN_IF_ERROR(set_i("backoff_ms_max", l.backoff_ms_max, 1, 3'600'000));
  RETURN_IF_ERROR(set_i("idle_poll_ms", l.idle_poll_ms, 1, 60'000));
  RETURN_IF_ERROR(set_i("stop_timeout_ms", l.stop_timeout_ms, 0, 600'000));
  if (l.backoff_ms_max < l.backoff_ms_min) {
    return Error(path + ".backoff_ms_max", "must be >= backoff_ms_min");
  }
  return absl::OkStatus();
}

absl::StatusOr<MqttToKafkaRule> ParseMqttToKafka(const YAML::Node& node, const std::string& path) {
  RETURN_IF_ERROR(CheckMap(node, path,
                           {"name", "filters", "kafka_topic", "key", "mqtt_headers",
                            "user_property_prefix", "start_from"}));
  MqttToKafkaRule r;
  for (const char* required : {"name", "filters", "kafka_topic"}) {
    if (!node[required]) return Error(path + "." + required, "required");
  }
  ASSIGN_OR_RETURN(r.name, GetString(node["name"], path + ".name"));
  if (!IsValidRuleName(r.name)) return Error(path + ".name", "must match [A-Za-z0-9._-]{1,128}");
  ASSIGN_OR_RETURN(r.filters, GetStringList(node["filters"], path + ".filters"));
  for (size_t i = 0; i < r.filters.size(); ++i) {
    absl::Status s = ValidateRuleFilter(r.filters[i]);
    if (!s.ok()) return Error(path + ".filters[" + std::to_string(i) + "]", std::string(s.message()));
  }
  ASSIGN_OR_RETURN(std::string topic, GetString(node["kafka_topic"], path + ".kafka_topic"));
  auto t = Template::Parse(topic, Template::Kind::kKafkaTopic);
  if (!t.ok()) return Error(path + ".kafka_topic", std::string(t.status().message()));
  r.kafka_topic = *std::move(t);
  if (node["key"]) {
    ASSIGN_OR_RETURN(std::string key, GetString(node["key"], path + ".key"));
    auto k = ParseKeySpec(key);
    if (!k.ok()) return Error(path + ".key", std::string(k.status().message()));
    r.key = *k;
  }
  int needed = std::max(r.kafka_topic.max_level(), r.key.source == KeySource::kLevel ? r.key.level : -1);
  for (const std::string& f : r.filters) {
    if (needed >= GuaranteedLevels(f)) {
      return Error(path, "level " + std::to_string(needed) + " (0-based) is used but filter \"" + f +
                             "\" matches topics without it");
    }
  }
  if (node["mqtt_headers"]) {
    ASSIGN_OR_RETURN(r.mqtt_headers, GetBool(node["mqtt_headers"], path + ".mqtt_headers"));
  }
  if (node["user_property_prefix"]) {
    ASSIGN_OR_RETURN(r.user_property_prefix, GetString(node["user_property_prefix"], path + ".user_property_prefix"));
  }
  if (node["start_from"]) {
    ASSIGN_OR_RETURN(r.start_from, GetStartFrom(node["start_from"], path + ".start_from"));
  }
  return r;
}

absl::StatusOr<KafkaToMqttRule> ParseKafkaToMqtt(const YAML::Node& node, const std::string& path) {
  RETURN_IF_ERROR(CheckMap(node, path,
                           {"name", "kafka_topics", "group_id", "mqtt_topic", "qos", "retain",
                            "headers_to_user_properties", "start_from"}));
  KafkaToMqttRule r;
  for (const char* required : {"name", "kafka_topics", "mqtt_topic"}) {
    if (!node[required]) return Error(path + "." + required, "required");
  }
  ASSIGN_OR_RETURN(r.name, GetString(node["name"], path + ".name"));
  if (!IsValidRuleName(r.name)) return Error(path + ".name", "must match [A-Za-z0-9._-]{1,128}");
  ASSIGN_OR_RETURN(r.kafka_topics, GetStringList(node["kafka_topics"], path + ".kafka_topics"));
  for (size_t i = 0; i < r.kafka_topics.size(); ++i) {
    if (!IsValidKafkaTopic(r.kafka_topics[i])) {
      return Error(path + ".kafka_topics[" + std::to_string(i) + "]", "not a valid Kafka topic name");
    }
  }
  r.group_id = "sluice-bridge-" + r.name;
  if (node["group_id"]) {
    ASSIGN_OR_RETURN(r.group_id, GetString(node["group_id"], path + ".group_id"));
  }
  ASSIGN_OR_RETURN(std::string topic, GetString(node["mqtt_topic"], path + ".mqtt_topic"));
  auto t = Template::Parse(topic, Template::Kind::kMqttTopic);
  if (!t.ok()) return Error(path + ".mqtt_topic", std::string(t.status().message()));
  r.mqtt_topic = *std::move(t);
  if (node["qos"]) {
    ASSIGN_OR_RETURN(int64_t qos, GetInt(node["qos"], path + ".qos", 0, 2));
    r.qos = static_cast<uint8_t>(qos);
  }
  if (node["retain"]) {
    ASSIGN_OR_RETURN(r.retain, GetBool(node["retain"], path + ".retain"));
  }
  if (node["headers_to_user_properties"]) {
    ASSIGN_OR_RETURN(r.headers_to_user_properties,
                     GetBool(node["headers_to_user_properties"], path + ".headers_to_user_properties"));
  }
  if (node["start_from"]) {
    ASSIGN_OR_RETURN(r.start_from, GetStartFrom(node["start_from"], path + ".start_from"));
  }
  return r;
}

}  // namespace

absl::StatusOr<BridgeConfig> ParseBridgeConfig(const YAML::Node& node) {
  const std::string path = "bridge";
  BridgeConfig c;
  if (!node || node.IsNull()) return c;
  try {
    RETURN_IF_ERROR(CheckMap(node, path, {"kafka", "limits", "mqtt_to_kafka", "kafka_to_mqtt"}));
    if (node["kafka"]) RETURN_IF_ERROR(ParseKafka(node["kafka"], path + ".kafka", c.kafka));
    if (node["limits"]) RETURN_IF_ERROR(ParseLimits(node["limits"], path + ".limits", c.limits));
    std::set<std::string> names;
    if (const YAML::Node rules = node["mqtt_to_kafka"]) {
      if (!rules.IsSequence()) return Error(path + ".mqtt_to_kafka", "expected a list of rules");
      for (size_t i = 0; i < rules.size(); ++i) {
        std::string p = path + ".mqtt_to_kafka[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(MqttToKafkaRule r, ParseMqttToKafka(rules[i], p));
        if (!names.insert(r.name).second) return Error(p + ".name", "duplicate rule name \"" + r.name + "\"");
        c.mqtt_to_kafka.push_back(std::move(r));
      }
    }
    if (const YAML::Node rules = node["kafka_to_mqtt"]) {
      if (!rules.IsSequence()) return Error(path + ".kafka_to_mqtt", "expected a list of rules");
      for (size_t i = 0; i < rules.size(); ++i) {
        std::string p = path + ".kafka_to_mqtt[" + std::to_string(i) + "]";
        ASSIGN_OR_RETURN(KafkaToMqttRule r, ParseKafkaToMqtt(rules[i], p));
        if (!names.insert(r.name).second) return Error(p + ".name", "duplicate rule name \"" + r.name + "\"");
        c.kafka_to_mqtt.push_back(std::move(r));
      }
    }
  } catch (const YAML::Exception& e) {
    return Error(path, e.what());
  }
  if (!c.empty() && c.kafka.bootstrap_servers.empty()) {
    return Error(path + ".kafka.bootstrap_servers", "required when bridge rules are configured");
  }
  return c;
}

absl::StatusOr<BridgeConfig> ParseBridgeConfigYaml(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("config: ") + e.what());
  }
  if (!root || root.IsNull()) return BridgeConfig{};
  if (!root.IsMap()) return absl::InvalidArgumentError("config: expected a map at the top level");
  return ParseBridgeConfig(root["bridge"]);
}

}  // namespace sluice::bridge
