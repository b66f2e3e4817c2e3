// Typed configuration: a schema binds keys to fields of a caller's struct, then a YAML file
// and command-line flags fill them in, flags overriding the file.
//
//   ConfigSchema schema("sluiced", "Sluice MQTT broker");
//   schema.AddString("data_dir", &cfg.data_dir, "Directory for persistent state.");
//   schema.AddInt("max_inflight", &cfg.max_inflight, 1, 65535, "Outgoing QoS>0 window.");
//   auto r = schema.ParseArgs(argc, argv);   // handles --config FILE and --help
//
// Keys are snake_case; nested YAML maps flatten to dotted keys ("limits.max_packet_size").
// The flag for a key replaces '_' with '-': --data-dir, --limits.max-packet-size.
// Unknown keys, unknown flags and values of the wrong type or out of range are errors whose
// message names the key and what was expected. Thread-compatible; the schema must outlive
// the bound fields' use by it.
#ifndef SLUICE_BASE_CONFIG_H_
#define SLUICE_BASE_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

class ConfigSchema {
 public:
  ConfigSchema(std::string program, std::string summary);

  void AddString(const std::string& key, std::string* field, std::string help);
  void AddInt(const std::string& key, int64_t* field, int64_t min, int64_t max, std::string help);
  void AddBool(const std::string& key, bool* field, std::string help);
  // A list: a YAML sequence of scalars, or a comma-separated flag value.
  void AddStringList(const std::string& key, std::vector<std::string>* field, std::string help);
  // A string restricted to one of `choices`.
  void AddEnum(const std::string& key, std::string* field, std::vector<std::string> choices,
               std::string help);
  // Runs after every load with the final values; returns an error naming the bad setting.
  void AddValidator(std::function<absl::Status()> validator);

  // Sets one key from its textual value (as given on the command line).
  absl::Status Set(const std::string& key, const std::string& value);
  absl::Status LoadYamlString(const std::string& text, const std::string& origin = "config");
  absl::Status LoadYamlFile(const std::string& path);
  absl::Status Validate() const;

  struct ParseResult {
    bool help_requested = false;  // --help was given: print Usage() and exit 0.
    std::string config_path;      // the --config file, if any.
  };
  // Parses argv: --config FILE (loaded first), then every other --key=value or --key value
  // (and --flag / --no-flag for booleans), then validators. argv[0] is skipped.
  absl::StatusOr<ParseResult> ParseArgs(int argc, const char* const* argv);

  std::string Usage() const;
  // "key: value" lines of the current values, in key order (for a config view).
  std::string Dump() const;

 private:
  enum class Kind { kString, kInt, kBool, kList, kEnum };
  struct Option {
    Kind kind;
    void* field;
    int64_t min = 0;
    int64_t max = 0;
    std::vector<std::string> choices;
    std::string help;
    std::string default_text;
  };
  void Add(const std::string& key, Option option);
  std::string ValueText(const Option& option) const;
  static std::string FlagName(const std::string& key);

  std::string program_;
  std::string summary_;
  std::map<std::string, Option> options_;
  std::map<std::string, std::string> flag_to_key_;
  std::vector<std::function<absl::Status()>> validators_;
};

}  // namespace sluice

#endif  // SLUICE_BASE_CONFIG_H_
