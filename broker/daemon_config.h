// sluiced's command line and config file: the broker's settings through its ConfigSchema (which
// refuses unknown keys), plus the `bridge:` section of the same YAML file, which belongs to the
// Kafka bridge and is parsed by bridge::ParseBridgeConfig (its own schema, errors naming the
// key path: "bridge.mqtt_to_kafka[0].key: ..."). The section is taken out of the document
// before the broker's schema sees it; everything else behaves as ConfigSchema::ParseArgs
// (--config FILE loaded first, flags on top, validators, --help).
//
// Used at startup (sluiced_main) and by the admin API's file reload. Thread-compatible.
#ifndef SLUICE_BROKER_DAEMON_CONFIG_H_
#define SLUICE_BROKER_DAEMON_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/config.h"
#include "bridge/mapping/config.h"

namespace sluice::broker {

struct DaemonArgs {
  ConfigSchema::ParseResult parsed;  // help_requested, config_path
  bridge::BridgeConfig bridge;       // empty when the file has no `bridge:` section
  std::string bridge_yaml;           // the section as YAML text ("" without one), to compare
};

// Errors: InvalidArgument naming the file and the setting (the broker's schema) or the bridge
// key path; NotFound when the --config file cannot be read.
absl::StatusOr<DaemonArgs> ParseDaemonArgs(ConfigSchema* schema, int argc,
                                           const char* const* argv);

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_DAEMON_CONFIG_H_
