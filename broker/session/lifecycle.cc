#include "broker/session/lifecycle.h"

#include <algorithm>

namespace sluice::broker {

void SessionLifecycle::Connected() {
  will_at_ms_ = -1;
  expire_at_ms_ = -1;
}

SessionLifecycle::Actions SessionLifecycle::Disconnected(int64_t now_ms, bool has_will,
                                                         uint32_t will_delay_s,
                                                         uint32_t expiry_s) {
  Actions now;
  if (expiry_s == 0) {
    // The session ends with its connection: a will goes now, whatever its delay.
    Connected();
    now.publish_will = has_will;
    now.end_session = true;
    return now;
  }
  expire_at_ms_ = expiry_s == kSessionNeverExpires
                      ? -1 : now_ms + static_cast<int64_t>(expiry_s) * 1000;
  will_at_ms_ = -1;
  if (has_will) {
    if (will_delay_s == 0) {
      now.publish_will = true;
    } else {
      will_at_ms_ = now_ms + static_cast<int64_t>(will_delay_s) * 1000;
      if (expire_at_ms_ >= 0) will_at_ms_ = std::min(will_at_ms_, expire_at_ms_);
    }
  }
  return now;
}

void SessionLifecycle::Restored(int64_t now_ms, uint32_t expiry_s) {
  will_at_ms_ = -1;
  expire_at_ms_ = expiry_s == kSessionNeverExpires
                      ? -1 : now_ms + static_cast<int64_t>(expiry_s) * 1000;
}

SessionLifecycle::Actions SessionLifecycle::OnTime(int64_t now_ms) {
  Actions due;
  if (will_at_ms_ >= 0 && now_ms >= will_at_ms_) {
    due.publish_will = true;
    will_at_ms_ = -1;
  }
  if (expire_at_ms_ >= 0 && now_ms >= expire_at_ms_) {
    // A will still waiting goes out as the session ends.
    if (will_at_ms_ >= 0) due.publish_will = true;
    due.end_session = true;
    Connected();
  }
  return due;
}

std::optional<int64_t> SessionLifecycle::NextDeadlineMs() const {
  if (will_at_ms_ < 0 && expire_at_ms_ < 0) return std::nullopt;
  if (will_at_ms_ < 0) return expire_at_ms_;
  if (expire_at_ms_ < 0) return will_at_ms_;
  return std::min(will_at_ms_, expire_at_ms_);
}

}  // namespace sluice::broker
