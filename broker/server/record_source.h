// RecordSource: where a session reads its backlog from — the records of one partition of the
// commit log from an offset on, like a Kafka consumer's fetch (issue 13). The local source
// reads this node's log; in the cluster a partition may live on other nodes, and a remote
// fetch from a replica implements the same interface.
//
// Thread-safety: Fetch is called on a shard thread and `done` runs on that same thread (the
// local source calls it before Fetch returns; a remote one posts it back). Errors:
// OutOfRange when `from` is below the log start (hard retention deleted it: FetchedRecords is
// not given; call LogStart and go on from there), others from the log (DataLoss,
// Unavailable, InvalidArgument for an unknown partition).
#ifndef SLUICE_BROKER_SERVER_RECORD_SOURCE_H_
#define SLUICE_BROKER_SERVER_RECORD_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/session/message.h"

namespace sluice::broker {

class Durable;

struct FetchedRecords {
  // The records read whose topic matches a filter of the request, ascending offsets.
  std::vector<std::shared_ptr<Message>> messages;
  // Where the next read starts: one past the last record scanned (`from` when none). Past
  // the records returned when the rest of the read matched nothing, and the high watermark
  // when no topic the filters match can be in the partition (Partitioner::MayHold).
  int64_t next = 0;
  int64_t high_watermark = 0;  // of the partition, read before the records
};

class RecordSource {
 public:
  using FetchDone = std::function<void(absl::StatusOr<FetchedRecords>)>;
  virtual ~RecordSource() = default;
  // Reads at most `max_records` records and about `max_bytes` (at least one when any is
  // there) and returns those whose topic matches one of `filters` (valid filters, no
  // $share prefix): a consumer's backlog is found without copying what it does not want.
  // `now_ms` is the shard's monotonic clock (message expiry keeps counting while a record
  // waits in the log).
  virtual void Fetch(uint32_t partition, int64_t from, uint32_t max_records, uint64_t max_bytes,
                     const std::vector<std::string>& filters, int64_t now_ms,
                     FetchDone done) = 0;
  virtual absl::StatusOr<int64_t> LogStart(uint32_t partition) const = 0;
};

// Reads this node's commit log (Durable::log) synchronously, on the calling thread.
class LocalRecordSource final : public RecordSource {
 public:
  explicit LocalRecordSource(Durable* durable) : durable_(durable) {}
  void Fetch(uint32_t partition, int64_t from, uint32_t max_records, uint64_t max_bytes,
             const std::vector<std::string>& filters, int64_t now_ms, FetchDone done) override;
  absl::StatusOr<int64_t> LogStart(uint32_t partition) const override;

 private:
  Durable* durable_;  // not owned
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_RECORD_SOURCE_H_
