// Command-line plumbing for sluicectl: argument parsing (flags may appear anywhere after the
// command words), human tables, and the exit codes scripts rely on.
//
// Pure and I/O-free apart from the printing helpers' std::ostream; thread-compatible.
#ifndef SLUICE_TOOLS_SLUICECTL_CLI_H_
#define SLUICE_TOOLS_SLUICECTL_CLI_H_

#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace sluice::ctl {

// Exit codes (documented in tools/README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitServerError = 1;  // the server answered with an error
inline constexpr int kExitUsage = 2;        // bad command, flag or argument
inline constexpr int kExitUnreachable = 3;  // no server at --server / SLUICE_ADMIN

// A flag a command accepts. Boolean flags take no value; others take "--name=V" or "--name V".
struct FlagSpec {
  std::string name;        // without dashes
  std::string short_name;  // e.g. "o" for -o; may be empty
  bool boolean = false;
  bool repeated = false;
  std::string value_name;  // for help: "N", "HOST:PORT"
  std::string help;
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;  // name -> values ("true" for bools)
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // Last value of a flag, or `fallback`.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
};

// Parses argv against `specs`. Returns false with *error set on an unknown flag, a missing
// value, or a value given to a boolean flag. "--" ends flag parsing.
bool ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
               ParsedArgs* out, std::string* error);

// Renders rows as aligned columns (header first), two spaces apart.
void PrintTable(std::ostream& os, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// Flag help lines ("  -o, --output FORMAT   ...").
std::string FlagsHelp(const std::vector<FlagSpec>& specs);

// "1d2h3m4s" style duration.
std::string HumanDuration(long long seconds);
// "512 B", "1.5 KiB", "20.0 MiB", "3.2 GiB" (binary units, one decimal above bytes).
std::string HumanBytes(unsigned long long bytes);
// Payload text for a table cell: printable ASCII shown (quoted, truncated to `max`), binary as
// "<N bytes>".
std::string PayloadPreview(const std::string& payload, size_t max = 40);

// Parses a positive integer flag value; false if not one in [min, max].
bool ParseUint(const std::string& text, unsigned long long min, unsigned long long max,
               unsigned long long* out);

}  // namespace sluice::ctl

#endif  // SLUICE_TOOLS_SLUICECTL_CLI_H_
