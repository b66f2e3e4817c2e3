// SysPublisher: the $SYS/broker/... statistics topics, as Mosquitto publishes them, refreshed
// every sys_interval_s as retained QoS 0 messages through the broker's normal routing (so a
// subscriber to $SYS/# gets the current values at once and every update after).
//
// Topics (values are decimal text unless noted):
//   $SYS/broker/version                      "sluice X.Y.Z"
//   $SYS/broker/uptime                       "N seconds"
//   $SYS/broker/clients/connected            open connections
//   $SYS/broker/clients/disconnected         offline sessions kept
//   $SYS/broker/clients/total                all sessions
//   $SYS/broker/clients/maximum              highest connected count seen
//   $SYS/broker/messages/received            PUBLISH received (clients and wills)
//   $SYS/broker/messages/sent                PUBLISH delivered to subscribers
//   $SYS/broker/messages/dropped             messages dropped (all reasons)
//   $SYS/broker/messages/inflight            QoS 1/2 unacknowledged
//   $SYS/broker/messages/queued              queued in sessions
//   $SYS/broker/retained messages/count      retained messages stored
//   $SYS/broker/subscriptions/count          subscriptions
//   $SYS/broker/bytes/received, bytes/sent   socket bytes
//   $SYS/broker/publish/messages/received    same as messages/received
//   $SYS/broker/publish/messages/sent        same as messages/sent
//   $SYS/broker/publish/messages/dropped     same as messages/dropped
// A topic is published again only when its value changed (uptime: every interval). The
// broker's own messages are not counted in messages/received.
//
// Thread-safety: owns one thread; Start/Stop from the controlling thread. Stop before
// Broker::Stop (it posts to shard 0).
#ifndef SLUICE_BROKER_ADMIN_SYS_PUBLISHER_H_
#define SLUICE_BROKER_ADMIN_SYS_PUBLISHER_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "broker/server/broker.h"

namespace sluice::admin {

class SysPublisher {
 public:
  SysPublisher(broker::Broker* broker, std::string version, std::chrono::seconds interval);
  ~SysPublisher();

  void Start();
  void Stop();
  // One update now (also what the thread does on every tick).
  void PublishOnce();
  // The topic/value pairs of one update (for tests).
  std::vector<std::pair<std::string, std::string>> Snapshot();

 private:
  broker::Broker* broker_;
  std::string version_;
  std::chrono::seconds interval_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  uint64_t clients_maximum_ = 0;
  std::map<std::string, std::string> last_;  // topic -> value last published
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_SYS_PUBLISHER_H_
