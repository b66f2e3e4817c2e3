#include "broker/session/session.h"

#include "base/check.h"

namespace sluice::broker {

Session::Session(std::string client_id, uint32_t max_queued)
    : client_id_(std::move(client_id)), max_queued_(max_queued) {}

void Session::Attach(uint16_t window) {
  online_ = true;
  window_ = window == 0 ? 1 : window;
}

void Session::Detach() { online_ = false; }

uint16_t Session::AllocatePacketId() {
  // The window is at most 65535 and ids in use are tracked, so a free id always exists.
  SLUICE_CHECK(!used_ids_ || used_ids_->size() < 65535);
  while (true) {
    uint16_t id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
    if (!used_ids_ || !used_ids_->contains(id)) return id;
  }
}

bool Session::Emit(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out) {
  Outbound o;
  if (auto left = delivery.message->RemainingExpiryS(now_ms)) {
    if (*left == 0) {
      ++counters_.dropped_expired;
      return false;
    }
    o.has_expiry = true;
    o.expiry_s = *left;
  }
  if (delivery.qos > 0) {
    o.packet_id = AllocatePacketId();
    used_ids_.GetOrCreate().insert(o.packet_id);
    inflight_.push_back({o.packet_id, false, delivery});
  }
  o.delivery = std::move(delivery);
  out->push_back(std::move(o));
  return true;
}

OfferResult Session::Offer(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out) {
  if (delivery.qos == 0) {
    if (!online_) return OfferResult::kDroppedOffline;
    return Emit(std::move(delivery), now_ms, out) ? OfferResult::kSent
                                                  : OfferResult::kDroppedExpired;
  }
  if (online_ && queue_.empty() && inflight_.size() < window_) {
    return Emit(std::move(delivery), now_ms, out) ? OfferResult::kSent
                                                  : OfferResult::kDroppedExpired;
  }
  if (queue_.size() >= max_queued_) {
    ++counters_.dropped_queue_full;
    return OfferResult::kDroppedQueueFull;
  }
  queue_.push_back(std::move(delivery));
  return OfferResult::kQueued;
}

void Session::Pump(int64_t now_ms, std::vector<Outbound>* out) {
  while (online_ && !queue_.empty() && inflight_.size() < window_) {
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    Emit(std::move(d), now_ms, out);
  }
}

LazyDeque<Session::InflightEntry>::iterator Session::Find(uint16_t packet_id) {
  for (auto it = inflight_.begin(); it != inflight_.end(); ++it)
    if (it->packet_id == packet_id) return it;
  return inflight_.end();
}

void Session::Release(LazyDeque<InflightEntry>::iterator it, int64_t now_ms,
                      std::vector<Outbound>* out) {
  used_ids_->erase(it->packet_id);
  if (used_ids_->empty()) used_ids_.reset();
  inflight_.erase(it);
  Pump(now_ms, out);
}

bool Session::OnPuback(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out) {
  auto it = Find(packet_id);
  if (it == inflight_.end() || it->delivery.qos != 1) return false;
  Release(it, now_ms, out);
  return true;
}

bool Session::OnPubrec(uint16_t packet_id, uint8_t reason_code, int64_t now_ms,
                       std::vector<Outbound>* out) {
  auto it = Find(packet_id);
  if (it == inflight_.end() || it->delivery.qos != 2) return false;
  if (reason_code >= 0x80) {  // the receiver refused it: the flow ends here
    Release(it, now_ms, out);
    return true;
  }
  it->awaiting_pubcomp = true;
  it->delivery.message.reset();  // the payload is no longer needed
  Outbound o;
  o.kind = Outbound::Kind::kPubrel;
  o.packet_id = packet_id;
  out->push_back(std::move(o));
  return true;
}

bool Session::OnPubcomp(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out) {
  auto it = Find(packet_id);
  if (it == inflight_.end() || !it->awaiting_pubcomp) return false;
  Release(it, now_ms, out);
  return true;
}

void Session::Discard(uint16_t packet_id, int64_t now_ms, std::vector<Outbound>* out) {
  auto it = Find(packet_id);
  if (it != inflight_.end()) Release(it, now_ms, out);
}

void Session::Resume(int64_t now_ms, std::vector<Outbound>* out) {
  for (auto& entry : inflight_) {
    Outbound o;
    o.packet_id = entry.packet_id;
    if (entry.awaiting_pubcomp) {
      o.kind = Outbound::Kind::kPubrel;
    } else {
      o.dup = true;
      o.delivery = entry.delivery;
      if (auto left = entry.delivery.message->RemainingExpiryS(now_ms)) {
        // An expired message already in flight is still re-sent: the client may hold it.
        o.has_expiry = true;
        o.expiry_s = *left == 0 ? 1 : *left;
      }
    }
    out->push_back(std::move(o));
  }
  Pump(now_ms, out);
}

bool Session::RestoreInflight(uint16_t packet_id, bool awaiting_pubcomp, Delivery delivery) {
  if (packet_id == 0 || (used_ids_ && used_ids_->contains(packet_id))) return false;
  if (!awaiting_pubcomp && !delivery.message) return false;
  used_ids_.GetOrCreate().insert(packet_id);
  inflight_.push_back({packet_id, awaiting_pubcomp, std::move(delivery)});
  return true;
}

bool Session::BeginIncomingQos2(uint16_t packet_id) {
  return incoming_qos2_.GetOrCreate().insert(packet_id).second;
}

bool Session::EndIncomingQos2(uint16_t packet_id) {
  if (!incoming_qos2_ || incoming_qos2_->erase(packet_id) == 0) return false;
  if (incoming_qos2_->empty()) incoming_qos2_.reset();
  return true;
}

const absl::flat_hash_set<uint16_t>& Session::incoming_qos2_ids() const {
  static const auto* const kNone = new absl::flat_hash_set<uint16_t>();
  return incoming_qos2_ ? *incoming_qos2_ : *kNone;
}

}  // namespace sluice::broker
