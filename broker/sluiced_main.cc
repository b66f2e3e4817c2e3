// sluiced: the Sluice MQTT broker daemon.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "base/config.h"
#include "base/log.h"
#include "broker/admin/admin_service.h"
#include "broker/admin/cluster_metrics.h"
#include "broker/admin/metrics.h"
#include "broker/admin/sys_publisher.h"
#include "broker/admin/version.h"
#include "broker/bridge_host.h"
#include "broker/daemon_config.h"
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
  // The config file's `bridge:` section goes to the Kafka bridge (bridge/mapping/config.h).
  auto parsed = sluice::broker::ParseDaemonArgs(&schema, argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluiced: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->parsed.help_requested) {
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
  sigaddset(&signals, SIGHUP);  // reload certificates, password file and ACL
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  sluice::broker::Broker broker(config);
  // Installs the broker's stored listener (wakes the bridge): before Broker::Start. Destroyed
  // after Broker::Stop, and after admin and metrics, which read its status.
  sluice::broker::BridgeHost bridge(&broker, std::move(parsed->bridge));
  absl::Status started = broker.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "sluiced: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  if (absl::Status st = bridge.Start(); !st.ok()) {  // needs the log, opened by Broker::Start
    std::fprintf(stderr, "sluiced: %s\n", std::string(st.message()).c_str());
    bridge.Stop();
    broker.Stop();
    return 1;
  }

  // Operations: admin API, metrics endpoint, $SYS topics (broker/admin). Each is optional
  // (an empty address or a zero interval disables it); failing to bind one is fatal, like
  // failing to bind the MQTT listener.
  sluice::admin::NodeInfo info;
  info.version = sluice::admin::kVersion;
  info.argv.assign(argv, argv + argc);
  info.config_file = parsed->parsed.config_path;
  if (bridge.configured()) {
    info.bridge_status = [&bridge] { return bridge.Status(); };
    info.bridge_pause = [&bridge](const std::string& rule, bool paused) {
      return bridge.SetPaused(rule, paused);
    };
  }
  info.bridge_yaml = parsed->bridge_yaml;
  info.listeners.emplace_back("mqtt", broker.BoundAddress());
  sluice::admin::AdminServer admin(&broker, info);
  sluice::admin::MetricsServer metrics(&broker);
  // Reads the commit log: detached before Broker::Stop closes it (metrics serve until later).
  auto storage_metrics = std::make_shared<sluice::admin::StorageCollector>(
      broker.durable() != nullptr ? &broker.durable()->log() : nullptr);
  std::shared_ptr<sluice::admin::ClusterCollector> cluster_metrics;
  if (broker.cluster() != nullptr && broker.durable() != nullptr) {
    cluster_metrics = std::make_shared<sluice::admin::ClusterCollector>(broker.cluster(),
                                                                        &broker.durable()->log());
  }
  auto detach = [&] {
    storage_metrics->Detach();
    if (cluster_metrics) cluster_metrics->Detach();
  };
  auto fail = [&](const absl::Status& st) {
    std::fprintf(stderr, "sluiced: %s\n", std::string(st.message()).c_str());
    admin.Stop();
    metrics.Stop();
    detach();
    bridge.Stop();
    broker.Stop();
    return 1;
  };
  if (!config.admin_listen.empty()) {
    if (absl::Status st = admin.Start(config.admin_listen); !st.ok()) return fail(st);
    admin.AddListener("admin", admin.BoundAddress());
  }
  if (!config.metrics_listen.empty()) {
    metrics.Add(std::make_shared<sluice::admin::BrokerCollector>(&broker, sluice::admin::kVersion));
    metrics.Add(std::make_shared<sluice::admin::ProcessCollector>());
    metrics.Add(storage_metrics);
    if (cluster_metrics) {
      metrics.Add(cluster_metrics);
      metrics.SetReadyCheck([cluster_metrics] { return cluster_metrics->NotReady(); });
    }
    if (bridge.configured())
      metrics.Add(std::make_shared<sluice::admin::BridgeCollector>([&bridge] { return bridge.Status(); }));
    if (absl::Status st = metrics.Start(config.metrics_listen); !st.ok()) return fail(st);
    admin.AddListener("metrics", metrics.BoundAddress());
  }
  sluice::admin::SysPublisher sys(&broker, sluice::admin::kVersion,
                                  std::chrono::seconds(config.sys_interval_s));
  if (config.sys_interval_s > 0) sys.Start();
  metrics.SetReady(true);

  // Ready-fd protocol: the first line is the MQTT listener's HOST:PORT (what supervisors and
  // the conformance harness read); then one "NAME HOST:PORT" line per enabled ops listener.
  if (config.ready_fd >= 0) {
    std::string text = broker.BoundAddress() + "\n";
    if (!config.admin_listen.empty()) text += "admin " + admin.BoundAddress() + "\n";
    if (!config.metrics_listen.empty()) text += "metrics " + metrics.BoundAddress() + "\n";
    for (const auto& [name, address] : broker.security().ListenerAddresses())
      text += name + " " + address + "\n";  // "tls HOST:PORT", "ws ...", "wss ..."
    ssize_t n = write(static_cast<int>(config.ready_fd), text.data(), text.size());
    (void)n;
    close(static_cast<int>(config.ready_fd));
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    SLOG(kInfo) << "SIGHUP: reloading certificates, password file and ACL";
    (void)broker.security().Reload();  // failures are logged; the old settings stay
  }
  SLOG(kInfo).Kv("signal", sig) << "shutting down";
  metrics.SetReady(false, "shutting down");
  sys.Stop();
  admin.Stop();
  // Kafka->MQTT first, then MQTT->Kafka (drains and checkpoints: the log must be open), then
  // the broker (clients, shards, log).
  bridge.Stop();
  detach();
  broker.Stop();
  metrics.Stop();
  SLOG(kInfo) << "stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
