// A StateMachine for tests: per group, the list of applied payloads with their indexes. Its
// snapshot image is that list, so a node restored from a snapshot must end up with exactly the
// same list as one that applied every entry. Thread-safe: the driver applies, tests wait on it.
#ifndef SLUICE_CLUSTER_MULTIRAFT_TESTING_RECORDING_STATE_MACHINE_H_
#define SLUICE_CLUSTER_MULTIRAFT_TESTING_RECORDING_STATE_MACHINE_H_

#include <chrono>
#include <cstring>
#include <condition_variable>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "cluster/multiraft/state_machine.h"

namespace sluice::multiraft {

class RecordingStateMachine final : public StateMachine {
 public:
  struct Applied {
    LogIndex index;
    std::string data;
    friend bool operator==(const Applied&, const Applied&) = default;
    // For gtest's failure messages: "12:burst0" rather than the bytes.
    friend void PrintTo(const Applied& a, std::ostream* os) {
      *os << a.index.value() << ":" << a.data;
    }
  };

  void Apply(GroupId group, LogIndex index, std::string_view data) override {
    std::lock_guard<std::mutex> l(mu_);
    auto& v = groups_[group];
    SLUICE_CHECK_MSG(v.empty() || v.back().index < index, "applied out of order");
    v.push_back({index, std::string(data)});
    cv_.notify_all();
  }
  std::string TakeSnapshot(GroupId group) override {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const Applied& a : groups_[group]) {
      Put(out, a.index.value());
      Put(out, a.data.size());
      out.append(a.data);
    }
    return out;
  }
  void Restore(GroupId group, LogIndex index, std::string_view image) override {
    std::lock_guard<std::mutex> l(mu_);
    auto& v = groups_[group];
    v.clear();
    while (!image.empty()) {
      const uint64_t i = Get(image), n = Get(image);
      v.push_back({LogIndex(i), std::string(image.substr(0, n))});
      image.remove_prefix(n);
    }
    ++restores_;
    cv_.notify_all();
  }

  std::vector<Applied> applied(GroupId group) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = groups_.find(group);
    return it == groups_.end() ? std::vector<Applied>{} : it->second;
  }
  size_t count(GroupId group) const { return applied(group).size(); }
  int restores() const {
    std::lock_guard<std::mutex> l(mu_);
    return restores_;
  }
  // Waits until `group` has at least `n` applied payloads; false after `timeout`.
  bool AwaitCount(GroupId group, size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] {
      auto it = groups_.find(group);
      return it != groups_.end() && it->second.size() >= n;
    });
  }

 private:
  static void Put(std::string& out, uint64_t v) { out.append(reinterpret_cast<char*>(&v), 8); }
  static uint64_t Get(std::string_view& in) {
    uint64_t v;
    std::memcpy(&v, in.data(), 8);
    in.remove_prefix(8);
    return v;
  }
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<GroupId, std::vector<Applied>> groups_;
  int restores_ = 0;
};

}  // namespace sluice::multiraft

#endif  // SLUICE_CLUSTER_MULTIRAFT_TESTING_RECORDING_STATE_MACHINE_H_
