#include "broker/session/session.h"

#include <algorithm>
#include <limits>

#include "base/check.h"

namespace sluice::broker {

namespace {

uint64_t SizeOf(const Delivery& d) {
  return d.message ? d.message->topic.size() + d.message->payload.size() + 64 : 64;
}

}  // namespace

Session::Session(std::string client_id, const SessionLimits* limits)
    : client_id_(std::move(client_id)), limits_(limits) {
  SLUICE_CHECK(limits_ != nullptr);
}

void Session::Attach(uint16_t window) {
  online_ = true;
  window_ = window == 0 ? 1 : window;
}

void Session::Detach(const std::vector<int64_t>* watermarks) {
  online_ = false;
  // The opt-in in-memory queue (max_queued_messages) keeps its queue while the client is
  // away, as Mosquitto does.
  if (!watermarks || !limits_->log_backed) return;
  // Every partition goes behind, from the first record still needed: the earliest
  // log-backed delivery in the read-ahead, else the position (behind), else the watermark.
  std::vector<Position>& pos = positions_.GetOrCreate();
  if (pos.size() < watermarks->size()) pos.resize(watermarks->size());
  std::vector<int64_t> first(pos.size(), std::numeric_limits<int64_t>::max());
  LazyDeque<Delivery> kept;
  while (!queue_.empty()) {
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    if (d.read_ahead && d.message->partition < first.size()) {
      int64_t& f = first[d.message->partition];
      f = std::min(f, d.message->offset);
      continue;  // back to the log: read again on return
    }
    kept.push_back(std::move(d));
  }
  queue_ = std::move(kept);
  queued_log_ = 0;
  queued_log_bytes_ = 0;
  for (size_t p = 0; p < pos.size(); ++p) {
    Position& x = pos[p];
    const int64_t w = p < watermarks->size() ? (*watermarks)[p] : 0;
    int64_t from = x.behind ? x.next : std::max(x.next, w);
    from = std::min(from, first[p]);
    x.next = from;
    x.behind = true;
    x.last_deferred = -1;
  }
  // The window keeps its packet ids and offsets; the messages come back on resume.
  for (InflightEntry& e : inflight_)
    if (e.offset >= 0 && !e.awaiting_pubcomp) e.delivery.message.reset();
}

uint16_t Session::AllocatePacketId() {
  // The window is at most 65535 and ids in use are tracked, so a free id always exists.
  SLUICE_CHECK(!used_ids_ || used_ids_->size() < 65535);
  while (true) {
    uint16_t id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
    if (!used_ids_ || !used_ids_->contains(id)) return id;
  }
}

bool Session::InLog(const Delivery& d) {
  return d.message && d.message->offset >= 0 && !d.retained_copy && !d.shared;
}

bool Session::LogBacked(const Delivery& d) const {
  // With the opt-in in-memory queue, a record still goes back to the log while its partition
  // is behind (after a restart): queueing it would overtake the older records being read.
  return InLog(d) && (limits_->log_backed || behind(d.message->partition));
}

Session::Position& Session::PositionOf(uint32_t partition) {
  std::vector<Position>& pos = positions_.GetOrCreate();
  if (pos.size() <= partition) pos.resize(partition + 1);
  return pos[partition];
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
    const bool log = InLog(delivery);
    inflight_.push_back({o.packet_id, false, delivery, log ? delivery.message->partition : 0,
                         log ? delivery.message->offset : -1});
  }
  o.delivery = std::move(delivery);
  out->push_back(std::move(o));
  return true;
}

void Session::Enqueue(Delivery d) {
  d.read_ahead = LogBacked(d);
  if (d.read_ahead) {
    ++queued_log_;
    queued_log_bytes_ += SizeOf(d);
  } else {
    ++queued_memory_;
  }
  queue_.push_back(std::move(d));
}

void Session::Dequeued(const Delivery& d) {
  if (d.read_ahead) {
    --queued_log_;
    queued_log_bytes_ -= std::min(queued_log_bytes_, SizeOf(d));
  } else {
    --queued_memory_;
  }
}

OfferResult Session::Offer(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out) {
  if (delivery.qos == 0) {
    if (!online_) return OfferResult::kDroppedOffline;
    return Emit(std::move(delivery), now_ms, out) ? OfferResult::kSent
                                                  : OfferResult::kDroppedExpired;
  }
  if (LogBacked(delivery)) return OfferFromLog(std::move(delivery), now_ms, out);
  if (online_ && queue_.empty() && WindowHasRoom()) {
    return Emit(std::move(delivery), now_ms, out) ? OfferResult::kSent
                                                  : OfferResult::kDroppedExpired;
  }
  const uint32_t cap = limits_->log_backed ? limits_->memory_queue_max : limits_->max_queued;
  if (cap > 0 && queued_memory_ >= cap) {
    ++counters_.dropped_queue_full;
    return OfferResult::kDroppedQueueFull;
  }
  Enqueue(std::move(delivery));
  return OfferResult::kQueued;
}

OfferResult Session::OfferFromLog(Delivery delivery, int64_t now_ms, std::vector<Outbound>* out) {
  const uint32_t p = delivery.message->partition;
  const int64_t o = delivery.message->offset;
  Position* pos = positions_ && p < positions_->size() ? &(*positions_)[p] : nullptr;
  if (pos) {
    if (pos->behind) {
      pos->last_deferred = std::max(pos->last_deferred, o);
      ++counters_.deferred;
      return OfferResult::kDeferred;
    }
    if (o < pos->next) return OfferResult::kDuplicate;
  }
  if (online_ && queue_.empty() && WindowHasRoom()) {
    if (pos) pos->next = o + 1;
    return Emit(std::move(delivery), now_ms, out) ? OfferResult::kSent
                                                  : OfferResult::kDroppedExpired;
  }
  if (online_ && queued_log_ < limits_->read_ahead_messages &&
      queued_log_bytes_ + SizeOf(delivery) <= limits_->read_ahead_bytes) {
    if (pos) pos->next = o + 1;
    Enqueue(std::move(delivery));
    return OfferResult::kQueued;
  }
  // Behind from here: every earlier record of p was sent, queued or did not match.
  Position& behind = PositionOf(p);
  behind.behind = true;
  behind.next = o;
  behind.last_deferred = o;
  ++counters_.deferred;
  return OfferResult::kDeferred;
}

void Session::Pump(int64_t now_ms, std::vector<Outbound>* out) {
  while (online_ && !queue_.empty() && WindowHasRoom()) {
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    Dequeued(d);
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
  // A window entry whose record is gone (hard retention while the client was away) cannot be
  // re-sent: it leaves the window, counted.
  for (auto it = inflight_.begin(); it != inflight_.end();) {
    if (!it->awaiting_pubcomp && !it->delivery.message) {
      ++counters_.records_lost;
      used_ids_->erase(it->packet_id);
      it = inflight_.erase(it);
    } else {
      ++it;
    }
  }
  if (used_ids_ && used_ids_->empty()) used_ids_.reset();
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

std::vector<std::pair<uint32_t, int64_t>> Session::MissingInflight() const {
  std::vector<std::pair<uint32_t, int64_t>> out;
  for (const InflightEntry& e : inflight_)
    if (!e.awaiting_pubcomp && !e.delivery.message && e.offset >= 0)
      out.emplace_back(e.partition, e.offset);
  return out;
}

bool Session::LoadInflight(uint32_t partition, int64_t offset, MessagePtr message) {
  for (InflightEntry& e : inflight_) {
    if (e.partition == partition && e.offset == offset && !e.awaiting_pubcomp &&
        !e.delivery.message) {
      e.delivery.message = std::move(message);
      return true;
    }
  }
  return false;
}

// ==== Reading the log ========================================================================

bool Session::behind() const {
  if (!positions_) return false;
  for (const Position& p : *positions_)
    if (p.behind) return true;
  return false;
}

bool Session::behind(uint32_t partition) const {
  return positions_ && partition < positions_->size() && (*positions_)[partition].behind;
}

std::optional<Session::Fetch> Session::NextFetch() const {
  if (!online_ || !positions_ || positions_->empty()) return std::nullopt;
  const uint32_t ahead = limits_->log_backed ? limits_->read_ahead_messages : limits_->max_queued;
  uint64_t room = ahead > queued_log_ ? ahead - queued_log_ : 0;
  if (queue_.empty() && WindowHasRoom()) room += window_ - inflight_.size();
  if (room == 0) return std::nullopt;
  const uint64_t bytes = limits_->read_ahead_bytes > queued_log_bytes_
                             ? limits_->read_ahead_bytes - queued_log_bytes_ : 1;
  const std::vector<Position>& pos = *positions_;
  for (size_t i = 0; i < pos.size(); ++i) {
    const uint32_t p = static_cast<uint32_t>((fetch_turn_ + i) % pos.size());
    if (!pos[p].behind) continue;
    fetch_turn_ = p + 1;
    return Fetch{p, pos[p].next, static_cast<uint32_t>(std::min<uint64_t>(room, 1u << 16)),
                 std::max<uint64_t>(bytes, 1)};
  }
  return std::nullopt;
}

bool Session::StillWants(const Fetch& fetch) const {
  return online_ && behind(fetch.partition) && (*positions_)[fetch.partition].next == fetch.from;
}

void Session::OnFetched(uint32_t partition, std::vector<Delivery> matched, int64_t scanned_to,
                        int64_t high_watermark, int64_t now_ms, std::vector<Outbound>* out) {
  Position& pos = PositionOf(partition);
  for (Delivery& d : matched) {
    if (d.message->offset < pos.next) continue;  // taken before this read (cannot happen)
    ++counters_.read_from_log;
    if (online_ && queue_.empty() && WindowHasRoom()) {
      Emit(std::move(d), now_ms, out);
    } else {
      Enqueue(std::move(d));
    }
  }
  pos.next = std::max(pos.next, scanned_to);
  // Caught up: live from here, unless a delivery at or past the end of this read was left in
  // the log while it was under way.
  if (pos.behind && scanned_to >= high_watermark && pos.last_deferred < scanned_to) {
    pos.behind = false;
    pos.last_deferred = -1;
  }
}

void Session::OnRecordsLost(uint32_t partition, int64_t log_start) {
  Position& pos = PositionOf(partition);
  if (log_start <= pos.next) return;
  counters_.records_lost += static_cast<uint64_t>(log_start - pos.next);
  pos.next = log_start;
}

void Session::RestorePositions(const std::vector<int64_t>& cursors) {
  std::vector<Position>& pos = positions_.GetOrCreate();
  pos.assign(cursors.size(), Position{});
  for (size_t p = 0; p < cursors.size(); ++p) {
    pos[p].next = cursors[p];
    pos[p].behind = true;
  }
}

int64_t Session::FirstNeeded(uint32_t partition, int64_t watermark) const {
  int64_t first = watermark;
  if (positions_ && partition < positions_->size()) {
    const Position& pos = (*positions_)[partition];
    first = pos.behind ? pos.next : std::max(pos.next, watermark);
  }
  for (const InflightEntry& e : inflight_)
    if (e.offset >= 0 && e.partition == partition) first = std::min(first, e.offset);
  for (const Delivery& d : queue_)
    if (InLog(d) && d.message->partition == partition) first = std::min(first, d.message->offset);
  return first;
}

// ==== Incoming QoS 2 and restore =============================================================

bool Session::RestoreInflight(uint16_t packet_id, bool awaiting_pubcomp, Delivery delivery,
                              uint32_t partition, int64_t offset) {
  if (packet_id == 0 || (used_ids_ && used_ids_->contains(packet_id))) return false;
  if (!awaiting_pubcomp && !delivery.message && offset < 0) return false;
  used_ids_.GetOrCreate().insert(packet_id);
  inflight_.push_back({packet_id, awaiting_pubcomp, std::move(delivery), partition, offset});
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
