// Saving the broker's state across a clean restart: retained messages and persistent
// sessions (subscriptions, unacknowledged QoS 1/2 messages with their packet ids, queued
// messages, QoS 2 packet ids awaiting PUBREL) go to one file in the data directory when the
// broker stops, and come back when it starts. Until the durable commit log lands (issue 4),
// this is what "state flushed on SIGTERM" means; a kill -9 loses what changed since start.
//
// The file is written to a temporary name, fsynced and renamed, so a crash while saving
// leaves the previous file. It ends with a checksum; a damaged file is an error, never
// silently ignored. Message expiry and session expiry count only time the broker was up.
//
// Thread-safety: SaveState runs after every shard thread has stopped, LoadState before any
// has started; both touch every shard's state directly.
#ifndef SLUICE_BROKER_SERVER_PERSISTENCE_H_
#define SLUICE_BROKER_SERVER_PERSISTENCE_H_

#include <string>

#include "absl/status/status.h"

namespace sluice::broker {

class Broker;

inline constexpr char kStateFileName[] = "state.snapshot";

struct StateCounts {
  size_t sessions = 0;
  size_t retained = 0;
  size_t messages = 0;  // inflight + queued across sessions
};

// Writes `broker`'s state to `path`. Errors: the I/O error, with the path.
absl::Status SaveState(Broker& broker, const std::string& path, StateCounts* counts);

// Restores the state saved at `path` into a broker whose shards have not started. A missing
// file is OK (a fresh start). Errors: unreadable or damaged file (DataLoss), with the path.
absl::Status LoadState(Broker& broker, const std::string& path, StateCounts* counts);

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_PERSISTENCE_H_
