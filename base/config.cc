#include "base/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "base/check.h"
#include "base/status.h"

namespace sluice {
namespace {

absl::Status Invalid(const std::string& key, const std::string& value, const std::string& want) {
  return absl::InvalidArgumentError("invalid value '" + value + "' for " + key + ": expected " +
                                    want);
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace

ConfigSchema::ConfigSchema(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

std::string ConfigSchema::FlagName(const std::string& key) {
  std::string flag = key;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

void ConfigSchema::Add(const std::string& key, Option option) {
  SLUICE_CHECK_MSG(!options_.count(key), key.c_str());
  option.default_text = ValueText(option);
  flag_to_key_[FlagName(key)] = key;
  options_.emplace(key, std::move(option));
}

void ConfigSchema::AddString(const std::string& key, std::string* field, std::string help) {
  Add(key, {Kind::kString, field, 0, 0, {}, std::move(help), ""});
}
void ConfigSchema::AddInt(const std::string& key, int64_t* field, int64_t min, int64_t max,
                          std::string help) {
  Add(key, {Kind::kInt, field, min, max, {}, std::move(help), ""});
}
void ConfigSchema::AddBool(const std::string& key, bool* field, std::string help) {
  Add(key, {Kind::kBool, field, 0, 0, {}, std::move(help), ""});
}
void ConfigSchema::AddStringList(const std::string& key, std::vector<std::string>* field,
                                 std::string help) {
  Add(key, {Kind::kList, field, 0, 0, {}, std::move(help), ""});
}
void ConfigSchema::AddEnum(const std::string& key, std::string* field,
                           std::vector<std::string> choices, std::string help) {
  Add(key, {Kind::kEnum, field, 0, 0, std::move(choices), std::move(help), ""});
}
void ConfigSchema::AddValidator(std::function<absl::Status()> validator) {
  validators_.push_back(std::move(validator));
}

std::string ConfigSchema::ValueText(const Option& o) const {
  switch (o.kind) {
    case Kind::kString:
    case Kind::kEnum: return *static_cast<std::string*>(o.field);
    case Kind::kInt: return std::to_string(*static_cast<int64_t*>(o.field));
    case Kind::kBool: return *static_cast<bool*>(o.field) ? "true" : "false";
    case Kind::kList: return Join(*static_cast<std::vector<std::string>*>(o.field), ",");
  }
  return "";
}

absl::Status ConfigSchema::Set(const std::string& key, const std::string& value) {
  auto it = options_.find(key);
  if (it == options_.end()) return absl::InvalidArgumentError("unknown setting '" + key + "'");
  Option& o = it->second;
  switch (o.kind) {
    case Kind::kString: *static_cast<std::string*>(o.field) = value; break;
    case Kind::kEnum: {
      bool ok = false;
      for (auto& c : o.choices) ok |= (c == value);
      if (!ok) return Invalid(key, value, "one of " + Join(o.choices, ", "));
      *static_cast<std::string*>(o.field) = value;
      break;
    }
    case Kind::kInt: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(value.c_str(), &end, 0);
      if (value.empty() || *end != '\0' || errno == ERANGE || v < o.min || v > o.max)
        return Invalid(key, value,
                       "an integer from " + std::to_string(o.min) + " to " + std::to_string(o.max));
      *static_cast<int64_t*>(o.field) = v;
      break;
    }
    case Kind::kBool: {
      if (value == "true" || value == "1" || value == "yes" || value == "on") {
        *static_cast<bool*>(o.field) = true;
      } else if (value == "false" || value == "0" || value == "no" || value == "off") {
        *static_cast<bool*>(o.field) = false;
      } else {
        return Invalid(key, value, "true or false");
      }
      break;
    }
    case Kind::kList: {
      auto* list = static_cast<std::vector<std::string>*>(o.field);
      list->clear();
      std::stringstream ss(value);
      std::string item;
      while (std::getline(ss, item, ','))
        if (!item.empty()) list->push_back(item);
      break;
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status Flatten(const YAML::Node& node, const std::string& prefix,
                     std::vector<std::pair<std::string, YAML::Node>>* out) {
  for (const auto& kv : node) {
    // A complex key ("? [a]: b") is not a setting name; as<std::string>() would throw.
    if (!kv.first.IsScalar())
      return absl::InvalidArgumentError("setting names must be plain strings" +
                                        (prefix.empty() ? std::string() : " (under '" + prefix + "')"));
    std::string key = kv.first.as<std::string>();
    std::string full = prefix.empty() ? key : prefix + "." + key;
    if (kv.second.IsMap()) {
      RETURN_IF_ERROR(Flatten(kv.second, full, out));
    } else {
      out->emplace_back(full, kv.second);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ConfigSchema::LoadYamlString(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(origin + ": expected a map of settings");
  std::vector<std::pair<std::string, YAML::Node>> entries;
  RETURN_IF_ERROR(Flatten(root, "", &entries));
  for (auto& [key, value] : entries) {
    auto it = options_.find(key);
    if (it == options_.end())
      return absl::InvalidArgumentError(origin + ": unknown setting '" + key + "'");
    std::string text_value;
    if (value.IsSequence()) {
      if (it->second.kind != Kind::kList)
        return absl::InvalidArgumentError(origin + ": setting '" + key + "' takes one value, not a list");
      std::vector<std::string> items;
      for (const auto& item : value) {
        if (!item.IsScalar())
          return absl::InvalidArgumentError(origin + ": setting '" + key + "' must be a list of strings");
        items.push_back(item.as<std::string>());
      }
      *static_cast<std::vector<std::string>*>(it->second.field) = items;
      continue;
    }
    if (value.IsNull()) {
      text_value = "";
    } else if (value.IsScalar()) {
      text_value = value.as<std::string>();
    } else {
      return absl::InvalidArgumentError(origin + ": setting '" + key + "' has an unexpected shape");
    }
    absl::Status st = Set(key, text_value);
    if (!st.ok()) return absl::InvalidArgumentError(origin + ": " + std::string(st.message()));
  }
  return absl::OkStatus();
}

absl::Status ConfigSchema::LoadYamlFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return absl::NotFoundError("cannot open config file '" + path + "': " + std::strerror(errno));
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return LoadYamlString(text, path);
}

absl::Status ConfigSchema::Validate() const {
  for (const auto& v : validators_) RETURN_IF_ERROR(v());
  return absl::OkStatus();
}

absl::StatusOr<ConfigSchema::ParseResult> ConfigSchema::ParseArgs(int argc,
                                                                  const char* const* argv) {
  ParseResult result;
  std::vector<std::pair<std::string, std::string>> sets;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.help_requested = true;
      return result;
    }
    if (arg.rfind("--", 0) != 0)
      return absl::InvalidArgumentError("unexpected argument '" + arg + "' (flags start with --; see --help)");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "config") {
      if (!has_value) {
        if (i + 1 >= argc) return absl::InvalidArgumentError("--config needs a file path");
        value = argv[++i];
      }
      result.config_path = value;
      continue;
    }
    auto it = flag_to_key_.find(name);
    bool negated = false;
    if (it == flag_to_key_.end() && name.rfind("no-", 0) == 0) {
      it = flag_to_key_.find(name.substr(3));
      negated = it != flag_to_key_.end() && options_.at(it->second).kind == Kind::kBool;
      if (!negated) it = flag_to_key_.end();
    }
    if (it == flag_to_key_.end())
      return absl::InvalidArgumentError("unknown flag --" + name + " (see --help)");
    const Option& o = options_.at(it->second);
    if (o.kind == Kind::kBool && !has_value) {
      value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError("flag --" + name + " needs a value");
      value = argv[++i];
    }
    sets.emplace_back(it->second, value);
  }
  if (!result.config_path.empty()) RETURN_IF_ERROR(LoadYamlFile(result.config_path));
  for (auto& [key, value] : sets) {
    absl::Status st = Set(key, value);
    if (!st.ok()) return absl::InvalidArgumentError("--" + FlagName(key) + ": " + std::string(st.message()));
  }
  RETURN_IF_ERROR(Validate());
  return result;
}

std::string ConfigSchema::Usage() const {
  std::ostringstream os;
  os << "Usage: " << program_ << " [--config FILE] [--flag=value ...]\n" << summary_ << "\n\n";
  os << "  --config FILE\n      YAML file of settings (keys as below, with '_'); flags override it.\n";
  for (const auto& [key, o] : options_) {
    os << "  --" << FlagName(key);
    switch (o.kind) {
      case Kind::kInt: os << "=INT"; break;
      case Kind::kBool: os << "[=true|false]"; break;
      case Kind::kList: os << "=A,B,..."; break;
      case Kind::kEnum: os << "=" << Join(o.choices, "|"); break;
      default: os << "=STRING"; break;
    }
    os << "\n      " << o.help;
    if (o.kind == Kind::kInt) os << " Range " << o.min << ".." << o.max << ".";
    os << " (default: " << (o.default_text.empty() ? "\"\"" : o.default_text) << ")\n";
  }
  os << "  --help\n      Print this help and exit.\n";
  return os.str();
}

std::string ConfigSchema::Dump() const {
  std::ostringstream os;
  for (const auto& [key, o] : options_) os << key << ": " << ValueText(o) << "\n";
  return os.str();
}

}  // namespace sluice
