// Connection: acknowledgements of incoming QoS 1/2 publishes, in arrival order, sent once the
// commit log made each message durable (see connection.h and durable.h).
#include <boost/asio/post.hpp>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/server/shard.h"

namespace sluice::broker {

namespace reason = mqtt::reason;

bool Connection::InputPaused() const {
  return auth_pending_ ||
         (acks_ && acks_->waiting >= static_cast<uint32_t>(shard_->broker().config().receive_maximum));
}

uint64_t Connection::QueueAck(mqtt::PacketType type, uint16_t packet_id, uint8_t code,
                              bool ready) {
  if (ready && !acks_) {  // nothing waits before it: send at once
    Send(mqtt::Ack{type, packet_id, code, {}});
    return acks_base_++;
  }
  AckQueue& q = acks_.GetOrCreate();
  const uint64_t seq = acks_base_ + q.slots.size();
  q.slots.push_back({packet_id, type, code, ready});
  if (!ready) ++q.waiting;
  return seq;
}

void Connection::CompleteAck(uint64_t seq, uint8_t code) {
  if (terminated_ || !acks_) return;
  AckQueue& q = *acks_;
  if (seq < acks_base_ + q.head || seq >= acks_base_ + q.slots.size()) return;
  PendingAck& slot = q.slots[seq - acks_base_];
  if (slot.ready) return;
  slot.ready = true;
  slot.reason = code;
  --q.waiting;
  while (q.head < q.slots.size() && q.slots[q.head].ready) {
    const PendingAck& a = q.slots[q.head++];
    Send(mqtt::Ack{a.type, a.packet_id, a.reason, {}});
  }
  if (q.head == q.slots.size()) {
    acks_base_ += q.slots.size();
    acks_.reset();
  }
  if (input_paused_ && !InputPaused()) {
    input_paused_ = false;
    ProcessInput();
    if (!terminated_ && !moved_ && !read_pending_) DoRead();
  }
}

void Connection::OnStored(uint64_t seq, uint16_t packet_id, uint8_t qos, uint32_t partition,
                          absl::StatusOr<size_t> result) {
  if (qos == 2) shard_->OnQos2Stored(client_id(), packet_id, partition, result.status());
  if (terminated_) return;
  const bool v5 = version_ == mqtt::Version::k5;
  if (result.ok()) {
    CompleteAck(seq, *result == 0 && v5 ? reason::kNoMatchingSubscribers : reason::kSuccess);
    return;
  }
  const absl::Status& st = result.status();
  if (st.code() == absl::StatusCode::kCancelled) return;  // shutting down
  BrokerStats::Inc(shard_->stats().messages_store_failed);
  SLOG(kWarn).Kv("client_id", client_id()).Kv("error", st.message())
      << "message not stored, not acknowledged";
  if (!v5) {
    // MQTT 3.1.1 has no negative acknowledgement: the client re-sends after reconnecting.
    Terminate(std::nullopt, WillAction::kPublish);
    return;
  }
  CompleteAck(seq, st.code() == absl::StatusCode::kResourceExhausted ? reason::kQuotaExceeded
                                                                      : reason::kUnspecifiedError);
}

void Connection::HandlePubrel(uint16_t packet_id) {
  Session& session = host_->session;
  if (!session.EndIncomingQos2(packet_id)) {
    QueueAck(mqtt::PacketType::kPubcomp, packet_id, reason::kPacketIdentifierNotFound, true);
    return;
  }
  std::optional<uint32_t> partition = shard_->TakeIncomingPartition(host_, packet_id);
  if (!partition) {  // not stored (refused, or a message the log never held)
    QueueAck(mqtt::PacketType::kPubcomp, packet_id, reason::kSuccess, true);
    return;
  }
  // PUBCOMP frees the packet id for the client's next message: the log must forget it first,
  // or after a crash that next message would be taken for a duplicate and lost.
  uint64_t seq = QueueAck(mqtt::PacketType::kPubcomp, packet_id, reason::kSuccess, false);
  Shard* shard = shard_;
  shard_->broker().durable()->log().ReleaseQos2(
      PartitionId(*partition), client_id(), packet_id,
      [shard, self = shared_from_this(), seq](absl::Status st) {
        boost::asio::post(shard->io(), [self, seq, ok = st.ok()] {
          self->CompleteAck(seq, ok ? reason::kSuccess : reason::kUnspecifiedError);
        });
      });
}

}  // namespace sluice::broker
