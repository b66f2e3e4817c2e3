#include "cluster/raft/inflights.h"

#include "base/check.h"

namespace sluice::raft {

Inflights::Inflights(uint64_t max_msgs, uint64_t max_bytes)
    : max_msgs_(max_msgs), max_bytes_(max_bytes) {
  SLUICE_CHECK(max_msgs_ > 0);
}

void Inflights::Add(LogIndex last, uint64_t bytes) {
  SLUICE_CHECK_MSG(!Full(), "add to a full inflights window");
  SLUICE_CHECK(window_.empty() || window_.back().last < last);
  window_.push_back({last, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(LogIndex to) {
  while (!window_.empty() && window_.front().last <= to) {
    bytes_ -= window_.front().bytes;
    window_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (window_.empty()) return;
  bytes_ -= window_.front().bytes;
  window_.pop_front();
}

bool Inflights::Full() const {
  return window_.size() >= max_msgs_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

void Inflights::Reset() {
  window_.clear();
  bytes_ = 0;
}

}  // namespace sluice::raft
