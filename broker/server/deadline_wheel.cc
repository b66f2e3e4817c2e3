#include "broker/server/deadline_wheel.h"

#include "base/check.h"

namespace sluice::broker {

DeadlineWheel::DeadlineWheel(int64_t now_ms)
    : slots_(kSlots), expired_tick_(now_ms / kTickMs - 1) {
  for (Entry& s : slots_) s.prev_ = s.next_ = &s;
}

size_t DeadlineWheel::SlotOf(int64_t deadline_ms) const {
  int64_t tick = deadline_ms / kTickMs;
  // A deadline already passed goes to the next slot Expire looks at.
  if (tick <= expired_tick_) tick = expired_tick_ + 1;
  return static_cast<size_t>(tick) % kSlots;
}

void DeadlineWheel::Schedule(Entry* e, int64_t deadline_ms) {
  Cancel(e);
  e->deadline_ms_ = deadline_ms;
  Entry* head = &slots_[SlotOf(deadline_ms)];
  e->next_ = head->next_;
  e->prev_ = head;
  head->next_->prev_ = e;
  head->next_ = e;
  ++size_;
}

void DeadlineWheel::Cancel(Entry* e) {
  if (!e->scheduled()) return;
  e->prev_->next_ = e->next_;
  e->next_->prev_ = e->prev_;
  e->prev_ = e->next_ = nullptr;
  SLUICE_CHECK(size_ > 0);
  --size_;
}

void DeadlineWheel::Expire(int64_t now_ms, std::vector<Entry*>* due) {
  // Only ticks that have wholly passed: every entry in such a slot for this turn is due, so
  // none is skipped until the next turn. A deadline is late by less than one tick.
  const int64_t now_tick = (now_ms + 1) / kTickMs - 1;
  if (now_tick <= expired_tick_) return;
  // After a long pause every slot is visited once: a turn covers every deadline.
  int64_t first = now_tick - expired_tick_ > static_cast<int64_t>(kSlots)
                      ? now_tick - static_cast<int64_t>(kSlots) + 1
                      : expired_tick_ + 1;
  for (int64_t tick = first; tick <= now_tick; ++tick) {
    Entry* head = &slots_[static_cast<size_t>(tick) % kSlots];
    for (Entry* e = head->next_; e != head;) {
      Entry* next = e->next_;
      if (e->deadline_ms_ <= now_ms) {  // else it is due in a later turn
        Cancel(e);
        due->push_back(e);
      }
      e = next;
    }
  }
  expired_tick_ = now_tick;
}

}  // namespace sluice::broker
