#include "broker/daemon_config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace sluice::broker {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    return absl::NotFoundError("cannot open config file '" + path + "': " + std::strerror(errno));
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

}  // namespace

absl::StatusOr<DaemonArgs> ParseDaemonArgs(ConfigSchema* schema, int argc,
                                           const char* const* argv) {
  DaemonArgs out;
  // Take --config out of the command line (the same spellings ParseArgs accepts); the rest is
  // left to ParseArgs. --help anywhere: let ParseArgs answer before any file is read.
  std::vector<const char*> rest = {argc > 0 ? argv[0] : "sluiced"};
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      auto parsed = schema->ParseArgs(argc, argv);
      if (!parsed.ok()) return parsed.status();
      out.parsed = *parsed;
      return out;
    }
    if (arg == "--config") {
      if (i + 1 >= argc) return absl::InvalidArgumentError("--config needs a file path");
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!config_path.empty()) {
    auto text = ReadFile(config_path);
    if (!text.ok()) return text.status();
    YAML::Node root;
    try {
      root = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(config_path + ": not valid YAML: " + e.what());
    }
    std::string broker_text = *text;
    if (root.IsMap() && root["bridge"]) {
      auto bridge = bridge::ParseBridgeConfig(root["bridge"]);
      if (!bridge.ok())
        return absl::InvalidArgumentError(config_path + ": " + std::string(bridge.status().message()));
      out.bridge = *std::move(bridge);
      out.bridge_yaml = YAML::Dump(root["bridge"]);
      root.remove("bridge");
      broker_text = root.size() == 0 ? std::string() : YAML::Dump(root);
    }
    if (absl::Status st = schema->LoadYamlString(broker_text, config_path); !st.ok()) return st;
  }
  auto parsed = schema->ParseArgs(static_cast<int>(rest.size()), rest.data());
  if (!parsed.ok()) return parsed.status();
  out.parsed = *parsed;
  out.parsed.config_path = config_path;
  return out;
}

}  // namespace sluice::broker
