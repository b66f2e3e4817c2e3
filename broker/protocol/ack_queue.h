// AckQueue: acknowledgements of a connection's incoming PUBLISH/PUBREL leave in the order
// those packets arrived (MQTT 4.6), although a stored publish is acknowledged only once the
// log holds it. Each incoming packet takes a slot; a slot is sent once it and every slot
// before it are ready. While too many slots wait, the connection stops reading (backpressure).
// Pure; one per connection, on its thread. Boxed by the connection: an idle one has none.
#ifndef SLUICE_BROKER_PROTOCOL_ACK_QUEUE_H_
#define SLUICE_BROKER_PROTOCOL_ACK_QUEUE_H_

#include <cstdint>
#include <vector>

#include "mqtt/codec/packets.h"

namespace sluice::broker::protocol {

class AckQueue {
 public:
  // `next_seq` is the sequence number of the first slot Add hands out.
  explicit AckQueue(uint64_t next_seq = 0) : base_(next_seq) {}

  // Takes the next slot (its sequence number). A ready slot at the head is not kept: the
  // caller sends it at once (`*send_now` true) — the common case costs nothing.
  uint64_t Add(mqtt::PacketType type, uint16_t packet_id, uint8_t reason, bool ready,
               bool* send_now);
  // Slot `seq` is ready with `reason`; appends to *out every ack that may leave now, in order.
  // Unknown or already-ready slots change nothing.
  void Complete(uint64_t seq, uint8_t reason, std::vector<mqtt::Ack>* out);
  // Slots not ready yet.
  uint32_t waiting() const { return waiting_; }
  bool empty() const { return head_ == slots_.size(); }
  // Sequence number the next Add hands out (a connection that frees an empty queue keeps it).
  uint64_t next_seq() const { return base_ + slots_.size(); }

 private:
  struct Slot {
    uint16_t packet_id;
    mqtt::PacketType type;
    uint8_t reason;
    bool ready;
  };
  std::vector<Slot> slots_;  // slots_[i] has sequence number base_ + i
  uint64_t base_ = 0;
  uint32_t head_ = 0;        // first unsent slot
  uint32_t waiting_ = 0;
};

}  // namespace sluice::broker::protocol

#endif  // SLUICE_BROKER_PROTOCOL_ACK_QUEUE_H_
