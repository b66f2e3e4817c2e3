// SessionLifecycle: when a session whose client went away publishes its will and when it
// ends, decided on the time the caller passes in (pure: no timers, no clock). MQTT 5:
// session expiry (3.1.2.11.2) — 0 ends the session with the connection, 0xFFFFFFFF never;
// will delay (3.1.3.2.2) — the will waits for the delay or the end of the session, whichever
// comes first, and a client reconnecting meanwhile cancels it. MQTT 3.1.1 maps onto it: a
// clean session expires at once, a persistent one never, the will goes at once.
//
// The owner (a shard) keeps one timer per session at NextDeadlineMs and calls OnTime when it
// fires; whatever interleaving of reconnects and stale timers happens, OnTime at a time before
// a deadline does nothing. Thread-compatible.
#ifndef SLUICE_BROKER_SESSION_LIFECYCLE_H_
#define SLUICE_BROKER_SESSION_LIFECYCLE_H_

#include <cstdint>
#include <optional>

namespace sluice::broker {

inline constexpr uint32_t kSessionNeverExpires = 0xFFFFFFFF;

class SessionLifecycle {
 public:
  struct Actions {
    bool publish_will = false;  // publish the will now (then it is no longer pending)
    bool end_session = false;   // the session ends now
  };

  // A connection took the session: a waiting will is cancelled and nothing expires.
  void Connected();
  // The connection is gone at `now_ms`. `has_will`: a will is to be published (the client
  // did not discard it). `expiry_s`: 0 ends the session now, kSessionNeverExpires never.
  Actions Disconnected(int64_t now_ms, bool has_will, uint32_t will_delay_s, uint32_t expiry_s);
  // A session restored at start (no connection, no will): it ends `expiry_s` from now.
  void Restored(int64_t now_ms, uint32_t expiry_s);
  // What is due at `now_ms`.
  Actions OnTime(int64_t now_ms);
  // When OnTime has something to do next; nullopt: nothing is pending.
  std::optional<int64_t> NextDeadlineMs() const;
  bool will_pending() const { return will_at_ms_ >= 0; }

 private:
  int64_t will_at_ms_ = -1;    // -1: no will waiting
  int64_t expire_at_ms_ = -1;  // -1: no expiry pending (connected, or never expires)
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SESSION_LIFECYCLE_H_
