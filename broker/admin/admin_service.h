// AdminServer: the gRPC admin API of sluiced (proto/admin.proto), on its own listener.
//
// Each call runs on a gRPC thread and reaches broker state only through the Broker's admin
// methods (which post to the shards and wait, bounded), so no call can stall a shard for
// longer than its own work there. Configuration reload validates everything with the same
// ConfigSchema as startup before anything changes: a bad value changes nothing.
//
// Thread-safety: Start/Stop from one controlling thread; RPCs are served concurrently.
// Lifetime: the Broker must outlive the server; Stop before Broker::Stop.
#ifndef SLUICE_BROKER_ADMIN_ADMIN_SERVICE_H_
#define SLUICE_BROKER_ADMIN_ADMIN_SERVICE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "bridge/worker/status.h"
#include "broker/server/broker.h"

namespace grpc {
class Server;
}

namespace sluice::admin {

// What the admin API reports about the process that is not broker state.
struct NodeInfo {
  std::string version;
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point started_steady = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::string>> listeners;  // name -> bound HOST:PORT
  // The daemon's own command line (argv[0] included), re-parsed on a file reload.
  std::vector<std::string> argv;
  std::string config_file;  // the --config file, if any
  // The Kafka bridge (broker/bridge_host.h): its status, null when no bridge is configured;
  // and its config section as YAML, so that a file reload that changes it says "bridge"
  // needs a restart.
  std::function<bridge::BridgeStatusReport()> bridge_status;
  // Pauses (paused = true) or resumes rule `rule` ("" = every rule) of the bridge
  // (BridgeHost::SetPaused); null when no bridge is configured.
  std::function<absl::Status(const std::string& rule, bool paused)> bridge_pause;
  std::string bridge_yaml;
};

class AdminServer {
 public:
  AdminServer(broker::Broker* broker, NodeInfo info);
  ~AdminServer();

  // Binds `address` (HOST:PORT; port 0 picks one) and starts serving.
  absl::Status Start(const std::string& address);
  // "HOST:PORT" bound (after Start).
  std::string BoundAddress() const { return bound_; }
  // Adds a listener to what GetStatus reports (e.g. metrics, bound after this server).
  void AddListener(std::string name, std::string address);
  // Stops accepting calls and waits (bounded) for those in flight.
  void Stop();

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string bound_;
};

}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_ADMIN_SERVICE_H_
