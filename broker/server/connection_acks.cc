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
         (acks_ && acks_->waiting() >= static_cast<uint32_t>(shard_->broker().config().receive_maximum));
}

uint64_t Connection::QueueAck(mqtt::PacketType type, uint16_t packet_id, uint8_t code,
                              bool ready) {
  if (ready && !acks_) {  // nothing waits before it: send at once, no queue allocated
    Send(mqtt::Ack{type, packet_id, code, {}});
    return acks_base_++;
  }
  if (!acks_) acks_ = protocol::AckQueue(acks_base_);
  bool send_now = false;
  const uint64_t seq = acks_->Add(type, packet_id, code, ready, &send_now);
  if (send_now) Send(mqtt::Ack{type, packet_id, code, {}});
  return seq;
}

void Connection::CompleteAck(uint64_t seq, uint8_t code) {
  if (terminated_ || !acks_) return;
  std::vector<mqtt::Ack> out;
  acks_->Complete(seq, code, &out);
  for (mqtt::Ack& ack : out) Send(std::move(ack));
  if (acks_->empty()) {
    acks_base_ = acks_->next_seq();
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
