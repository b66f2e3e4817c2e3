// SessionReader: the shard's reader of its sessions' backlogs from the commit log (issue 13).
// A session that fell behind (its read-ahead was full, or its client was away) asks for
// records with Session::NextFetch; the reader fetches them from a RecordSource, keeps those
// that match the session's subscriptions (shared ones excepted: a $share group's messages are
// assigned when routed), and hands them to Session::OnFetched, whose window and read-ahead
// decide what goes out. Reads are coalesced per session and bounded per turn of the shard
// (kSessionsPerTurn sessions, kFetchesPerSession reads each), so a large catch-up does not
// hold the shard's other clients.
//
// Thread-safety: one per shard, used on the shard's thread only. Errors of the source are
// counted and logged with the client id; OutOfRange (hard retention deleted records the
// session needed) is counted per session and reading goes on from the log start.
#ifndef SLUICE_BROKER_SERVER_SESSION_READER_H_
#define SLUICE_BROKER_SERVER_SESSION_READER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "broker/server/record_source.h"
#include "broker/session/session.h"

namespace sluice::broker {

class Shard;
struct SessionHost;

class SessionReader {
 public:
  static constexpr size_t kSessionsPerTurn = 64;
  static constexpr int kFetchesPerSession = 4;

  // Neither owned; both outlive the reader.
  SessionReader(Shard* shard, RecordSource* source) : shard_(shard), source_(source) {}

  // `client_id`'s session may want records now (it resumed, acks freed its window, a read
  // left more to read): reads for it soon.
  void Wake(const std::string& client_id);
  // Wake, if the session wants records.
  void WakeIfWanted(const SessionHost& host);

  // The deliveries `host`'s session gets from `messages` (read from the log), by its
  // non-shared subscriptions: QoS, retain-as-published, subscription ids, no-local, and the
  // offsets it subscribed at (SessionHost::subscribed_at). QoS 0 records are never delivered
  // from the log (they were routed live, or dropped for an offline session).
  static std::vector<Delivery> Match(const SessionHost& host,
                                     const std::vector<std::shared_ptr<Message>>& messages);

 private:
  void Run();
  // Up to kFetchesPerSession reads for one session; true when it wants more.
  bool ReadFor(SessionHost* host);
  void Apply(SessionHost* host, const Session::Fetch& fetch, absl::StatusOr<FetchedRecords> r);

  Shard* shard_;
  RecordSource* source_;
  std::vector<std::string> pending_;
  absl::flat_hash_set<std::string> pending_set_;
  bool posted_ = false;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_SESSION_READER_H_
