#include "broker/auth/acl.h"

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "mqtt/topic/levels.h"
#include "mqtt/topic/topic.h"

namespace sluice::auth {

namespace {

std::vector<std::string_view> Levels(std::string_view s) {
  std::vector<std::string_view> out;
  topic::ForEachLevel(s, [&](std::string_view level) { out.push_back(level); });
  return out;
}

bool IsWild(std::string_view level) { return level == "+" || level == "#"; }
bool IsDollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

// Substitutes %u and %c; nullopt when a used value is unusable.
std::optional<std::string> Substitute(const std::string& pattern, std::string_view user,
                                      std::string_view client_id) {
  if (pattern.find('%') == std::string::npos) return pattern;
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() &&
        (pattern[i + 1] == 'u' || pattern[i + 1] == 'c')) {
      std::string_view value = pattern[i + 1] == 'u' ? user : client_id;
      if (value.empty() || value.find_first_of("/+#") != std::string_view::npos)
        return std::nullopt;
      out.append(value);
      ++i;
    } else {
      out.push_back(pattern[i]);
    }
  }
  return out;
}

}  // namespace

bool FilterCovers(std::string_view pattern, std::string_view filter) {
  auto p = Levels(pattern);
  auto f = Levels(filter);
  for (size_t i = 0; i < p.size(); ++i) {
    // A pattern starting with a wildcard matches no '$' topic (MQTT 4.7.2).
    if (i == 0 && IsWild(p[0]) && IsDollar(f[0])) return false;
    if (p[i] == "#") return true;
    if (i >= f.size()) return false;
    if (f[i] == "#") return false;
    if (p[i] == "+") continue;
    if (f[i] == "+" || p[i] != f[i]) return false;
  }
  return f.size() == p.size();
}

bool FiltersOverlap(std::string_view a, std::string_view b) {
  auto x = Levels(a);
  auto y = Levels(b);
  if ((IsWild(x[0]) && IsDollar(y[0])) || (IsWild(y[0]) && IsDollar(x[0]))) return false;
  size_t i = 0;
  for (; i < x.size() && i < y.size(); ++i) {
    if (x[i] == "#" || y[i] == "#") return true;
    if (x[i] == "+" || y[i] == "+") continue;
    if (x[i] != y[i]) return false;
  }
  if (x.size() == y.size()) return true;
  // "a" and "a/#": '#' also matches its parent level.
  const auto& longer = x.size() > y.size() ? x : y;
  return longer.size() == i + 1 && longer[i] == "#";
}

bool ClientAcl::CanPublish(std::string_view topic) const {
  if (index_) {
    if (index_->deny_publish.AnyMatches(topic)) return false;
    if (index_->allow_publish.AnyMatches(topic)) return true;
    return default_allow;
  }
  for (const auto& f : deny_publish)
    if (topic::Matches(f, topic)) return false;
  for (const auto& f : allow_publish)
    if (topic::Matches(f, topic)) return true;
  return default_allow;
}

bool ClientAcl::CanSubscribe(std::string_view filter) const {
  if (index_) {
    if (index_->deny_subscribe.AnyOverlaps(filter)) return false;
    if (index_->allow_subscribe.AnyCovers(filter)) return true;
    return default_allow;
  }
  for (const auto& f : deny_subscribe)
    if (FiltersOverlap(f, filter)) return false;
  for (const auto& f : allow_subscribe)
    if (FilterCovers(f, filter)) return true;
  return default_allow;
}

void ClientAcl::Compile() {
  auto index = std::make_shared<Index>();
  for (const auto& f : allow_publish) index->allow_publish.Add(f);
  for (const auto& f : deny_publish) index->deny_publish.Add(f);
  for (const auto& f : allow_subscribe) index->allow_subscribe.Add(f);
  for (const auto& f : deny_subscribe) index->deny_subscribe.Add(f);
  index_ = std::move(index);
}

absl::StatusOr<Acl> Acl::Parse(const std::string& text) {
  Acl acl;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("ACL is not valid YAML: ") + e.what());
  }
  if (root.IsNull()) return acl;
  if (!root.IsMap()) return absl::InvalidArgumentError("ACL: expected a map with 'rules'");
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (key == "default") {
        std::string v = kv.second.as<std::string>();
        if (v != "allow" && v != "deny")
          return absl::InvalidArgumentError("ACL default: expected allow or deny, got '" + v + "'");
        acl.default_allow_ = v == "allow";
      } else if (key != "rules") {
        return absl::InvalidArgumentError("ACL: unknown key '" + key + "'");
      }
    }
    YAML::Node rules = root["rules"];
    if (rules && !rules.IsNull() && !rules.IsSequence())
      return absl::InvalidArgumentError("ACL rules: expected a list");
    for (size_t i = 0; rules && rules.IsSequence() && i < rules.size(); ++i) {
      const YAML::Node& r = rules[i];
      std::string where = "ACL rule " + std::to_string(i + 1);
      if (!r.IsMap()) return absl::InvalidArgumentError(where + ": expected a map");
      Rule rule;
      for (const auto& kv : r) {
        std::string key = kv.first.as<std::string>();
        if (key == "user" || key == "client_id" || key == "identity") {
          if (!kv.second.IsScalar())
            return absl::InvalidArgumentError(where + ": " + key + " must be a string");
          std::string v = kv.second.as<std::string>();
          (key == "user" ? rule.user : key == "client_id" ? rule.client_id : rule.identity) = v;
        } else if (key == "anonymous") {
          rule.anonymous = kv.second.as<bool>();
        } else if (key == "allow_publish" || key == "deny_publish" ||
                   key == "allow_subscribe" || key == "deny_subscribe") {
          auto& list = key == "allow_publish"     ? rule.allow_publish
                       : key == "deny_publish"    ? rule.deny_publish
                       : key == "allow_subscribe" ? rule.allow_subscribe
                                                  : rule.deny_subscribe;
          if (!kv.second.IsSequence())
            return absl::InvalidArgumentError(where + ": " + key + " must be a list of filters");
          for (const auto& f : kv.second) {
            std::string filter = f.as<std::string>();
            // Check the shape with placeholders filled in.
            auto probe = Substitute(filter, "u", "c");
            if (!probe || !topic::IsValidTopicFilter(*probe))
              return absl::InvalidArgumentError(where + ": invalid topic filter '" + filter +
                                                "' in " + key);
            list.push_back(std::move(filter));
          }
        } else {
          return absl::InvalidArgumentError(where + ": unknown key '" + key + "'");
        }
      }
      acl.rules_.push_back(std::move(rule));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("ACL: ") + e.what());
  }
  return acl;
}

absl::StatusOr<Acl> Acl::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read ACL file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  auto acl = Parse(ss.str());
  if (!acl.ok()) return absl::InvalidArgumentError(path + ": " + std::string(acl.status().message()));
  return acl;
}

std::shared_ptr<const ClientAcl> Acl::ForClient(std::string_view user, std::string_view client_id,
                                                std::string_view identity) const {
  auto out = std::make_shared<ClientAcl>();
  out->default_allow = default_allow_;
  auto selects = [](const std::optional<std::string>& want, std::string_view have) {
    return !want || (*want == "*" ? !have.empty() : *want == have);
  };
  for (const Rule& r : rules_) {
    if (r.anonymous && !user.empty()) continue;
    if (!selects(r.user, user) || !selects(r.client_id, client_id) ||
        !selects(r.identity, identity))
      continue;
    auto add = [&](const std::vector<std::string>& from, std::vector<std::string>* to) {
      for (const auto& f : from)
        if (auto s = Substitute(f, user, client_id)) to->push_back(std::move(*s));
    };
    add(r.allow_publish, &out->allow_publish);
    add(r.deny_publish, &out->deny_publish);
    add(r.allow_subscribe, &out->allow_subscribe);
    add(r.deny_subscribe, &out->deny_subscribe);
  }
  out->Compile();
  return out;
}

}  // namespace sluice::auth
