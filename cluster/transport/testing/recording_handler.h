// A TransportHandler for tests that records everything and lets a test wait (bounded) for a
// condition on what it recorded. Thread-safe.
#ifndef SLUICE_CLUSTER_TRANSPORT_TESTING_RECORDING_HANDLER_H_
#define SLUICE_CLUSTER_TRANSPORT_TESTING_RECORDING_HANDLER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <tuple>
#include <vector>

#include "cluster/transport/transport.h"

namespace sluice::transport {

class RecordingHandler final : public TransportHandler {
 public:
  struct Received {
    NodeId from;
    GroupMessage gm;
  };
  void HandleMessages(NodeId from, std::vector<GroupMessage> batch) override {
    std::lock_guard<std::mutex> l(mu_);
    for (GroupMessage& gm : batch) received_.push_back({from, std::move(gm)});
    cv_.notify_all();
  }
  void HandleUnreachable(NodeId peer) override {
    std::lock_guard<std::mutex> l(mu_);
    unreachable_.push_back(peer);
    cv_.notify_all();
  }
  void HandleSnapshotStatus(GroupId group, NodeId to, bool delivered) override {
    std::lock_guard<std::mutex> l(mu_);
    snapshot_status_.push_back({group, to, delivered});
    cv_.notify_all();
  }
  // Waits until `pred` (called under the lock) holds; false after `timeout`.
  bool WaitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, pred);
  }
  // Accessors for use inside WaitFor predicates (lock held) or after it returned.
  const std::vector<Received>& received() const { return received_; }
  const std::vector<NodeId>& unreachable() const { return unreachable_; }
  const std::vector<std::tuple<GroupId, NodeId, bool>>& snapshot_status() const {
    return snapshot_status_;
  }
  std::mutex& mu() { return mu_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  std::vector<NodeId> unreachable_;
  std::vector<std::tuple<GroupId, NodeId, bool>> snapshot_status_;
};

}  // namespace sluice::transport

#endif  // SLUICE_CLUSTER_TRANSPORT_TESTING_RECORDING_HANDLER_H_
