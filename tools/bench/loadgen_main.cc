// loadgen: the Sluice MQTT load generator. See tools/bench/README.md and scenario.h.
#include <signal.h>

#include <cstdio>
#include <string>

#include "base/config.h"
#include "tools/bench/scenario.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  sluice::bench::ScenarioOptions options;
  sluice::ConfigSchema schema(
      "loadgen", "MQTT load generator: p2p, fan-in, shared, fan-out, devices, slow-subscriber and "
      "connection storms.");
  options.Register(&schema);
  auto parsed = schema.ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->help_requested) {
    std::fputs(schema.Usage().c_str(), stdout);
    return 0;
  }
  return sluice::bench::RunScenario(options);
}
