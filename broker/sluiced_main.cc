// sluiced: the Sluice MQTT broker daemon.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/config.h"
#include "base/log.h"
#include "broker/server/broker.h"

namespace {

int Run(int argc, char** argv) {
  // Under `bazel run`, resolve relative paths (./data, --config) from where the user was.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) {
    if (chdir(dir) != 0) std::perror("sluiced: chdir to BUILD_WORKING_DIRECTORY");
  }
  sluice::broker::BrokerConfig config;
  sluice::ConfigSchema schema("sluiced", "Sluice MQTT broker (MQTT 3.1.1 and 5.0).");
  config.Register(&schema);
  auto parsed = schema.ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluiced: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->help_requested) {
    std::fputs(schema.Usage().c_str(), stdout);
    return 0;
  }
  sluice::log::SetLevel(*sluice::log::ParseLevel(config.log_level));

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    std::fprintf(stderr, "sluiced: cannot create data directory '%s': %s\n",
                 config.data_dir.c_str(), fs_error.message().c_str());
    return 1;
  }

  // Signals are taken synchronously by this thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sluice::broker::Broker broker(config);
  absl::Status started = broker.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "sluiced: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  if (config.ready_fd >= 0) {
    std::string line = broker.BoundAddress() + "\n";
    ssize_t n = write(static_cast<int>(config.ready_fd), line.data(), line.size());
    (void)n;
    close(static_cast<int>(config.ready_fd));
  }
  int sig = 0;
  sigwait(&signals, &sig);
  SLOG(kInfo).Kv("signal", sig) << "shutting down";
  broker.Stop();
  SLOG(kInfo) << "stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
