// DeadlineWheel: one shard's connection deadlines (connect timeout, keep alive, drain) in a
// hashed timing wheel, instead of an Asio timer per connection. An idle connection then costs
// an intrusive hook (24 bytes) rather than a steady_timer (112 bytes), its pending wait
// operation and a slot in the reactor's timer heap (README "Performance").
//
// Pure: no clock, no I/O; the shard drives it with its own time and one Asio timer.
// Thread-safety: none; owned and used by one shard's thread. Ownership: entries are owned by
// their users, which must Cancel() before they are destroyed.
#ifndef SLUICE_BROKER_SERVER_DEADLINE_WHEEL_H_
#define SLUICE_BROKER_SERVER_DEADLINE_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::broker {

class DeadlineWheel {
 public:
  // Embedded in what has a deadline (a base class of Connection).
  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    bool scheduled() const { return prev_ != nullptr; }
    int64_t deadline_ms() const { return deadline_ms_; }

   private:
    friend class DeadlineWheel;
    Entry* prev_ = nullptr;  // the slot's sentinel when first; null when not scheduled
    Entry* next_ = nullptr;
    int64_t deadline_ms_ = 0;
  };

  static constexpr int64_t kTickMs = 50;
  static constexpr size_t kSlots = 1024;  // a turn is 51.2 s; later deadlines wait a turn

  explicit DeadlineWheel(int64_t now_ms);
  DeadlineWheel(const DeadlineWheel&) = delete;
  DeadlineWheel& operator=(const DeadlineWheel&) = delete;

  // (Re)schedules `e` at `deadline_ms`; a deadline in the past is due at the next Expire.
  void Schedule(Entry* e, int64_t deadline_ms);
  void Cancel(Entry* e);
  size_t size() const { return size_; }

  // Unlinks every entry whose deadline is <= now_ms and appends it to `due`, earliest slots
  // first. Cost: the slots passed since the last call (at most one turn) and their entries.
  void Expire(int64_t now_ms, std::vector<Entry*>* due);

 private:
  size_t SlotOf(int64_t deadline_ms) const;

  std::vector<Entry> slots_;  // sentinels of circular lists
  int64_t expired_tick_;      // every tick up to this one has been expired
  size_t size_ = 0;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_DEADLINE_WHEEL_H_
