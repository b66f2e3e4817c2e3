#include "broker/server/record_source.h"

#include "base/status.h"
#include "broker/server/durable.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

void LocalRecordSource::Fetch(uint32_t partition, int64_t from, uint32_t max_records,
                              uint64_t max_bytes, const std::vector<std::string>& filters,
                              int64_t now_ms, FetchDone done) {
  storage::PartitionedLog& log = durable_->log();
  const PartitionId p(partition);
  // The high watermark first: everything below it is in the read (or a later one), which is
  // what lets the session go live at the end of a read (session.h "Seams").
  absl::StatusOr<storage::PartitionInfo> info = log.Info(p);
  if (!info.ok()) return done(info.status());
  // A partition none of the filters can have a topic in is skipped to its end unread: a
  // session subscribed to one topic reads one partition, not the whole log.
  bool may_hold = false;
  for (const std::string& f : filters) may_hold = may_hold || log.partitioner().MayHold(p, f);
  if (!may_hold) {
    FetchedRecords none;
    none.high_watermark = none.next = static_cast<int64_t>(info->high_watermark.value());
    return done(std::move(none));
  }
  absl::StatusOr<std::vector<storage::StoredRecord>> records =
      log.Read(p, Offset(static_cast<uint64_t>(from)), max_records, max_bytes);
  if (!records.ok()) return done(records.status());
  FetchedRecords out;
  out.high_watermark = static_cast<int64_t>(info->high_watermark.value());
  out.next = from;
  const int64_t wall_now = WallNowMs();
  out.messages.reserve(records->size());
  for (storage::StoredRecord& r : *records) {
    const int64_t offset = static_cast<int64_t>(r.offset.value());
    out.next = offset + 1;
    bool wanted = false;
    for (const std::string& f : filters) {
      if (topic::Matches(f, r.record.topic)) {
        wanted = true;
        break;
      }
    }
    if (!wanted) continue;
    absl::StatusOr<std::shared_ptr<Message>> m =
        Durable::ToMessage(r.record, partition, offset, now_ms, wall_now);
    if (!m.ok()) return done(m.status());
    out.messages.push_back(*std::move(m));
  }
  done(std::move(out));
}

absl::StatusOr<int64_t> LocalRecordSource::LogStart(uint32_t partition) const {
  ASSIGN_OR_RETURN(storage::PartitionInfo info, durable_->log().Info(PartitionId(partition)));
  return static_cast<int64_t>(info.log_start.value());
}

}  // namespace sluice::broker
