#include "broker/protocol/ack_queue.h"

namespace sluice::broker::protocol {

uint64_t AckQueue::Add(mqtt::PacketType type, uint16_t packet_id, uint8_t reason, bool ready,
                       bool* send_now) {
  const uint64_t seq = base_ + slots_.size();
  *send_now = ready && empty();
  if (*send_now) {
    // Nothing waits before it: no slot kept.
    base_ += slots_.size() + 1;
    slots_.clear();
    head_ = 0;
    return seq;
  }
  slots_.push_back({packet_id, type, reason, ready});
  if (!ready) ++waiting_;
  return seq;
}

void AckQueue::Complete(uint64_t seq, uint8_t reason, std::vector<mqtt::Ack>* out) {
  if (seq < base_ + head_ || seq >= base_ + slots_.size()) return;
  Slot& slot = slots_[seq - base_];
  if (slot.ready) return;
  slot.ready = true;
  slot.reason = reason;
  --waiting_;
  while (head_ < slots_.size() && slots_[head_].ready) {
    const Slot& s = slots_[head_++];
    out->push_back(mqtt::Ack{s.type, s.packet_id, s.reason, {}});
  }
  if (head_ == slots_.size()) {
    base_ += slots_.size();
    slots_.clear();
    head_ = 0;
  }
}

}  // namespace sluice::broker::protocol
