// Replay: a SUBSCRIBE carrying the MQTT 5 user property `sluice-replay` also delivers what the
// commit log holds for its filters, the way a Kafka consumer reads from an offset (README
// "Replay"). Values: `earliest`, `latest`, `time:<unix ms>`, `offset:<p>:<o>[,<p>:<o>...]`.
#include <charconv>
#include <map>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/server/shard.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace {

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && *out >= 0;
}

// Per-packet read limit besides max_queued_messages: a replay never reads more than this
// from disk on the shard's thread in one go.
constexpr uint64_t kReplayReadBytesMax = 64ull << 20;

}  // namespace

std::optional<ReplaySpec> ParseReplaySpec(std::string_view v) {
  ReplaySpec spec;
  if (v == "earliest") {
    spec.kind = ReplaySpec::Kind::kEarliest;
  } else if (v == "latest") {
    spec.kind = ReplaySpec::Kind::kLatest;
  } else if (v.substr(0, 5) == "time:") {
    spec.kind = ReplaySpec::Kind::kTime;
    if (!ParseInt(v.substr(5), &spec.time_ms)) return std::nullopt;
  } else if (v.substr(0, 7) == "offset:") {
    spec.kind = ReplaySpec::Kind::kOffsets;
    std::string_view rest = v.substr(7);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      size_t colon = item.find(':');
      int64_t p, o;
      if (colon == std::string_view::npos || !ParseInt(item.substr(0, colon), &p) ||
          !ParseInt(item.substr(colon + 1), &o))
        return std::nullopt;
      spec.offsets[static_cast<uint32_t>(p)] = o;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (spec.offsets.empty()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return spec;
}

std::optional<std::string_view> FindReplayProperty(const mqtt::Properties& props) {
  for (const auto& [key, value] : props.user_properties)
    if (key == kReplayProperty) return std::string_view(value);
  return std::nullopt;
}

void Connection::Replay(const ReplaySpec& spec,
                        const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs) {
  if (spec.kind == ReplaySpec::Kind::kLatest || subs.empty()) return;
  Durable& durable = *shard_->broker().durable();
  storage::PartitionedLog& log = durable.log();
  // Replayed copies are not the session's position in the log: they wait in memory, within
  // memory_queue_max_messages.
  const size_t memory_max = static_cast<size_t>(shard_->broker().config().memory_queue_max_messages);
  const size_t max_messages = memory_max == 0 ? SIZE_MAX : memory_max;
  const int64_t now = shard_->NowMs(), wall_now = WallNowMs();
  size_t delivered = 0;
  uint64_t bytes = 0;
  std::vector<Outbound> out;
  for (uint32_t p = 0; p < durable.partitions() && delivered < max_messages; ++p) {
    auto info = log.Info(PartitionId(p));
    if (!info.ok()) continue;
    // Read up to the high watermark of now: later messages arrive live (the subscription is
    // installed), so the seam may repeat a message but never skips one.
    const int64_t end = static_cast<int64_t>(info->high_watermark.value());
    int64_t from = static_cast<int64_t>(info->log_start.value());
    if (spec.kind == ReplaySpec::Kind::kTime) {
      auto o = log.OffsetForTime(PartitionId(p), spec.time_ms);
      if (!o.ok()) continue;
      from = static_cast<int64_t>(o->value());
    } else if (spec.kind == ReplaySpec::Kind::kOffsets) {
      auto it = spec.offsets.find(p);
      if (it == spec.offsets.end()) continue;
      from = std::max(from, it->second);  // before the log start: from the start (earliest)
    }
    while (from < end && delivered < max_messages && bytes < kReplayReadBytesMax) {
      auto batch = log.Read(PartitionId(p), Offset(static_cast<uint64_t>(from)), 256, 1 << 20);
      if (!batch.ok() || batch->empty()) break;
      for (const storage::StoredRecord& r : *batch) {
        const int64_t offset = static_cast<int64_t>(r.offset.value());
        from = offset + 1;
        if (offset >= end) break;
        bytes += r.record.payload.size() + r.record.topic.size();
        Delivery d;
        for (const auto& [filter, options] : subs) {
          if (!topic::Matches(filter, r.record.topic)) continue;
          if (options.no_local && r.record.publisher == client_id()) continue;
          d.qos = std::max(d.qos, std::min(r.record.qos, options.qos));
          d.retain |= options.retain_as_published && r.record.retain;
          if (options.subscription_id) d.subscription_ids.push_back(options.subscription_id);
          if (!d.message) {
            auto m = Durable::ToMessage(r.record, p, offset, now, wall_now);
            if (!m.ok()) break;
            (*m)->properties.user_properties.emplace_back(
                kOffsetProperty, std::to_string(p) + ":" + std::to_string(offset));
            (*m)->offset = -1;  // a copy: not part of the session's position in the log
            d.message = std::move(*m);
          }
        }
        if (!d.message) continue;
        d.retained_copy = true;
        host_->session.Offer(std::move(d), now, &out);
        if (++delivered >= max_messages) break;
      }
    }
  }
  BrokerStats::Inc(shard_->stats().messages_replayed, delivered);
  SendOutbound(out);
}

}  // namespace sluice::broker
