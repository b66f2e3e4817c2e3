// Helpers for the operations tests: run a command-line tool and capture its output, fetch a
// URL over a plain socket, and parse the Prometheus text format.
//
// Every wait is bounded. Not thread-safe: one test thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::ops_test {

struct ToolResult {
  int exit_code = -1;  // -1: did not exit in time (then killed), or killed by a signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is the path) with extra environment entries ("NAME=VALUE"); unset_env
// names are removed from the environment first. Kills it after `timeout`.
ToolResult RunTool(const std::vector<std::string>& argv,
                   const std::vector<std::string>& env = {},
                   const std::vector<std::string>& unset_env = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

struct HttpResponse {
  int status = 0;  // 0: no response
  std::string body;
};
// GET http://127.0.0.1:port/path with HTTP/1.1 and Connection: close.
HttpResponse HttpGet(uint16_t port, const std::string& path);

// Samples of a Prometheus text exposition, keyed "name{label="v",...}" exactly as printed
// (labels in the exporter's order), or "name" without labels.
using Samples = std::map<std::string, double>;
// Parses the text format; a line that does not parse is reported in *error.
Samples ParseMetrics(const std::string& text, std::string* error);
// Value of a sample, or nullopt.
std::optional<double> Get(const Samples& s, const std::string& key);

}  // namespace sluice::ops_test
