// The log simulator's checkers.
//
// After every step (check_every_steps): at most one leader per (group, term); on every up
// node and partition, the high watermark never goes back while the node is up, the log start
// stays 0 (no retention here), every record up to the high watermark reads back densely
// (offset o at position o) and equals the committed history -- the record the first replica
// read at that offset, so every replica's records at an offset are identical -- and no
// cursor is past the high watermark; every 16 steps, every QoS 2 entry points below the high
// watermark at a QoS 2 record of its own publisher and packet id.
// At every acknowledgement: no two appends got the same offset, and the acknowledged record
// is the committed one at its offset when that is known (else when it becomes known).
// After each heal, once every replica converged: every acknowledged append is in the
// history at its offset, none refused was applied; every replica has the same high
// watermarks, retained messages (equal to what the history implies), QoS 2 entries, cursors
// and metadata keys, each one of the states its key's operations allow (log_sim_internal.h,
// KeyHistory).
//
// Nothing here depends on how much unsynced applied state a crash dropped (RocksDB's
// background threads decide that, README.md): a restarted node is checked from offset 0
// again, and only converged replicas are compared.
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "base/status.h"
#include "storage/log/log_state.h"
#include "tests/sim/log_sim_internal.h"

namespace sluice::sim::logsim {
namespace {

std::string Where(NodeId n, PartitionId p, uint64_t o) {
  std::ostringstream os;
  os << "node " << n << " partition " << p << " offset " << o;
  return os.str();
}

// The record id in a record's property block ("id=N"); 0 if there is none.
uint64_t IdOf(const storage::Record& r) {
  if (r.properties.rfind("id=", 0) != 0) return 0;
  return std::strtoull(r.properties.c_str() + 3, nullptr, 10);
}

template <typename State>
std::string Show(const std::set<std::optional<State>>& states);

std::string ShowOne(const std::optional<Offset>& s) {
  return s ? std::to_string(s->value()) : "absent";
}
std::string ShowOne(const std::optional<std::string>& s) { return s ? *s : "absent"; }

template <typename State>
std::string Show(const std::set<std::optional<State>>& states) {
  std::string out;
  for (const auto& s : states) out += (out.empty() ? "" : ", ") + ShowOne(s);
  return "{" + out + "}";
}

}  // namespace

absl::Status LogSimulation::CheckStep() {
  RETURN_IF_ERROR(CheckLeaders());
  for (SimLogNode& n : nodes_) {
    if (!n.up()) continue;
    RETURN_IF_ERROR(VerifyRecords(n));
    if (step_ % 16 == 0) RETURN_IF_ERROR(CheckQos2Entries(n));
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckLeaders() {
  for (const SimLogNode& n : nodes_) {
    for (GroupId g : Groups()) {
      std::optional<multiraft::GroupStatus> s = StatusOf(n, g);
      if (!s || s->state != raft::StateType::kLeader) continue;
      auto [it, inserted] = leaders_.try_emplace({g, s->term}, n.id);
      if (inserted) {
        ++stats_->leaders_elected;
        Trace(20, g.value(), s->term.value() * 64 + n.id.value());
      } else if (it->second != n.id) {
        std::ostringstream os;
        os << "two leaders of group " << g << " in term " << s->term << ": " << it->second
           << " and " << n.id;
        return Fail(os.str());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::VerifyRecords(SimLogNode& n) {
  for (uint32_t pi = 0; pi < o_.partitions; ++pi) {
    const PartitionId p(pi);
    absl::StatusOr<storage::PartitionInfo> info = n.log->Info(p);
    if (!info.ok()) return Fail("Info on node " + std::to_string(n.id.value()) + ": " +
                                info.status().ToString());
    if (info->high_watermark < n.last_hwm[pi]) {
      return Fail(Where(n.id, p, info->high_watermark.value()) +
                  ": the high watermark went back from " +
                  std::to_string(n.last_hwm[pi].value()) + " while the node was up");
    }
    n.last_hwm[pi] = info->high_watermark;
    if (info->log_start != Offset(0)) return Fail(Where(n.id, p, 0) + ": log start moved");
    const uint64_t hwm = info->high_watermark.value();
    // Bounded: every round reads at least one record or fails.
    while (n.verified[pi] < hwm) {
      absl::StatusOr<std::vector<storage::StoredRecord>> got =
          n.log->Read(p, Offset(n.verified[pi]), 64);
      if (!got.ok()) {
        return Fail(Where(n.id, p, n.verified[pi]) + " below the high watermark " +
                    std::to_string(hwm) + ": read failed: " + got.status().ToString());
      }
      if (got->empty()) return Fail(Where(n.id, p, n.verified[pi]) + ": empty read below the HWM");
      for (const storage::StoredRecord& r : *got) {
        if (r.offset != Offset(n.verified[pi])) {
          return Fail(Where(n.id, p, n.verified[pi]) + ": read returned offset " +
                      std::to_string(r.offset.value()) + " (offsets not dense)");
        }
        RETURN_IF_ERROR(RecordCommitted(p, r.offset, r.record, n.id));
        ++n.verified[pi];
        ++stats_->records_verified;
      }
    }
    absl::StatusOr<std::vector<storage::CursorInfo>> cursors = n.log->ListCursors(p);
    if (!cursors.ok()) return Fail("ListCursors: " + cursors.status().ToString());
    for (const storage::CursorInfo& c : *cursors) {
      if (c.offset > info->high_watermark) {
        return Fail(Where(n.id, p, c.offset.value()) + ": cursor " + c.name +
                    " past the high watermark " + std::to_string(hwm));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::RecordCommitted(PartitionId p, Offset o, const storage::Record& r,
                                            NodeId node) {
  std::vector<Committed>& h = history_[p.value()];
  if (o.value() < h.size()) {
    if (!(h[o.value()].record == r)) {
      return Fail(Where(node, p, o.value()) + ": replicas disagree: record id " +
                  std::to_string(IdOf(r)) + " here, " + std::to_string(h[o.value()].append_id) +
                  " on the replica read first");
    }
    return absl::OkStatus();
  }
  if (o.value() != h.size()) return Fail(Where(node, p, o.value()) + ": a gap in the history");
  const uint64_t id = IdOf(r);
  auto op = appends_.find(id);
  if (id == 0 || op == appends_.end() || !(op->second.record == r) ||
      op->second.partition != p) {
    return Fail(Where(node, p, o.value()) + ": a record no client appended (id " +
                std::to_string(id) + ")");
  }
  if (!located_.emplace(id, std::make_pair(p.value(), o.value())).second) {
    return Fail(Where(node, p, o.value()) + ": record " + std::to_string(id) +
                " committed twice");
  }
  if (op->second.outcome == Outcome::kRejected) {
    return Fail(Where(node, p, o.value()) + ": record " + std::to_string(id) +
                " was refused to its client but committed");
  }
  h.push_back(Committed{id, r});
  Trace(30, p.value(), o.value() * 1'000'003 + id);
  if (r.retain) ++stats_->retained_records;
  return CheckAck(id);
}

absl::Status LogSimulation::CheckAck(uint64_t id) {
  const AppendOp& op = appends_[id];
  if (op.outcome != Outcome::kAcked) return absl::OkStatus();
  const std::pair<uint32_t, uint64_t> at{op.partition.value(), op.offset.value()};
  auto [it, inserted] = acked_at_.try_emplace(at, id);
  if (!inserted && it->second != id) {
    return Fail("partition " + std::to_string(at.first) + " offset " + std::to_string(at.second) +
                " acknowledged to two appends: " + std::to_string(it->second) + " and " +
                std::to_string(id));
  }
  const std::vector<Committed>& h = history_[at.first];
  if (at.second < h.size() && h[at.second].append_id != id) {
    return Fail("append " + std::to_string(id) + " was acknowledged at partition " +
                std::to_string(at.first) + " offset " + std::to_string(at.second) +
                ", but the committed record there is " + std::to_string(h[at.second].append_id));
  }
  auto loc = located_.find(id);
  if (loc != located_.end() && loc->second != at) {
    return Fail("append " + std::to_string(id) + " acknowledged at offset " +
                std::to_string(at.second) + " but committed at " +
                std::to_string(loc->second.second));
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckQos2Entries(SimLogNode& n) {
  for (const storage::PendingQos2& q : ValueOrDie(n.log->ListPendingQos2())) {
    const uint32_t pi = q.partition.value();
    if (pi >= o_.partitions || q.offset >= n.last_hwm[pi]) {
      return Fail(Where(n.id, q.partition, q.offset.value()) + ": QoS 2 entry of " + q.publisher +
                  " at or past the high watermark");
    }
    const Committed& c = history_[pi][q.offset.value()];  // verified: below the HWM
    const AppendOp& a = appends_[c.append_id];
    if (a.packet_id != q.packet_id || c.record.publisher != q.publisher || c.record.qos != 2) {
      return Fail(Where(n.id, q.partition, q.offset.value()) + ": QoS 2 entry (" + q.publisher +
                  ", " + std::to_string(q.packet_id) + ") points at another record");
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckConverged() {
  for (SimLogNode& n : nodes_) RETURN_IF_ERROR(VerifyRecords(n));
  for (uint32_t pi = 0; pi < o_.partitions; ++pi) {
    for (SimLogNode& n : nodes_) {
      if (n.last_hwm[pi].value() != history_[pi].size()) {
        return Fail(Where(n.id, PartitionId(pi), n.last_hwm[pi].value()) +
                    ": converged replica's high watermark differs from the history's " +
                    std::to_string(history_[pi].size()));
      }
    }
  }
  for (const auto& [id, op] : appends_) {
    if (op.outcome != Outcome::kAcked) continue;
    if (!located_.count(id)) {
      return Fail("acknowledged append " + std::to_string(id) + " (partition " +
                  std::to_string(op.partition.value()) + " offset " +
                  std::to_string(op.offset.value()) + ") is not in the converged log");
    }
  }
  for (SimLogNode& n : nodes_) {
    RETURN_IF_ERROR(CheckQos2Entries(n));
    RETURN_IF_ERROR(CheckRetained(n));
    RETURN_IF_ERROR(CheckQos2Model(n));
    RETURN_IF_ERROR(CheckCursors(n));
    RETURN_IF_ERROR(CheckMetadata(n));
  }
  // The model allows some states either way (an operation of unknown outcome); converged
  // replicas must nevertheless all be in the same one.
  auto state_of = [&](SimLogNode& n) {
    std::ostringstream os;
    for (const storage::PendingQos2& q : ValueOrDie(n.log->ListPendingQos2())) {
      os << "q" << q.partition << "/" << q.publisher << "/" << q.packet_id << "=" << q.offset
         << ";";
    }
    for (uint32_t pi = 0; pi < o_.partitions; ++pi) {
      absl::StatusOr<std::vector<storage::CursorInfo>> cs = n.log->ListCursors(PartitionId(pi));
      for (const storage::CursorInfo& c : cs.ok() ? *cs : std::vector<storage::CursorInfo>{}) {
        os << "c" << pi << "/" << c.name << "=" << c.offset << "@" << c.updated_ms << ";";
      }
    }
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> kv = n.log->ScanState("");
    for (const auto& [k, v] : kv.ok() ? *kv : std::vector<std::pair<std::string, std::string>>{}) {
      os << "k" << k << "=" << v << ";";
    }
    return os.str();
  };
  const std::string first = state_of(nodes_[0]);
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (state_of(nodes_[i]) != first) {
      return Fail("converged replicas differ in QoS 2 entries, cursors or metadata: node 1 has " +
                  first + " node " + std::to_string(i + 1) + " has " + state_of(nodes_[i]));
    }
  }
  Trace(41, std::hash<std::string>()(first));
  for (uint32_t pi = 0; pi < o_.partitions; ++pi) Trace(40, pi, history_[pi].size());
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckRetained(SimLogNode& n) {
  // What the committed history implies: per topic, the last retained record, unless its
  // payload was empty (a clear).
  std::map<std::string, storage::StoredRecord> want;
  for (uint32_t pi = 0; pi < o_.partitions; ++pi) {
    for (uint64_t o = 0; o < history_[pi].size(); ++o) {
      const storage::Record& r = history_[pi][o].record;
      if (!r.retain) continue;
      if (r.payload.empty()) {
        want.erase(r.topic);
      } else {
        want[r.topic] = storage::StoredRecord{Offset(o), r};
      }
    }
  }
  std::vector<storage::StoredRecord> have = ValueOrDie(n.log->ListRetained());
  if (have.size() != want.size()) {
    return Fail("node " + std::to_string(n.id.value()) + " has " + std::to_string(have.size()) +
                " retained messages, the history implies " + std::to_string(want.size()));
  }
  for (const storage::StoredRecord& h : have) {
    auto it = want.find(h.record.topic);
    if (it == want.end() || it->second.offset != h.offset || !(it->second.record == h.record)) {
      return Fail("node " + std::to_string(n.id.value()) + ": retained message of " +
                  h.record.topic + " at offset " + std::to_string(h.offset.value()) +
                  " is not the topic's last retained record");
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckQos2Model(SimLogNode& n) {
  std::map<Qos2Key, Offset> have;
  for (const storage::PendingQos2& q : ValueOrDie(n.log->ListPendingQos2())) {
    have[Qos2Key{q.partition.value(), q.publisher, q.packet_id}] = q.offset;
  }
  for (const auto& [key, offset] : have) {
    if (!qos2_.count(key)) return Fail("a QoS 2 entry of " + std::get<1>(key) + " nobody made");
  }
  for (const auto& [key, h] : qos2_) {
    // An append was applied iff its record is in the (complete, converged) history.
    std::set<std::optional<Offset>> may{std::nullopt};
    for (const KeyOp& op : h.ops) {
      if (op.kind == KeyOp::Kind::kAppend) {
        auto loc = located_.find(op.append_id);
        if (loc != located_.end()) may = {Offset(loc->second.second)};
      } else if (op.outcome == Outcome::kAcked) {
        may = {std::nullopt};
      } else if (op.outcome != Outcome::kRejected) {
        may.insert(std::nullopt);
      }
    }
    auto it = have.find(key);
    const std::optional<Offset> state =
        it == have.end() ? std::nullopt : std::optional<Offset>(it->second);
    if (!may.count(state)) {
      return Fail("node " + std::to_string(n.id.value()) + ": QoS 2 entry (" +
                  std::to_string(std::get<0>(key)) + ", " + std::get<1>(key) + ", " +
                  std::to_string(std::get<2>(key)) + ") is " + ShowOne(state) +
                  ", its operations allow " + Show(may));
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckCursors(SimLogNode& n) {
  for (const auto& [key, h] : cursors_) {
    std::set<std::optional<Offset>> may{std::nullopt};
    for (const KeyOp& op : h.ops) {
      if (op.outcome == Outcome::kAcked) {
        may = {op.offset};
      } else if (op.outcome != Outcome::kRejected) {
        may.insert(op.offset);
      }
    }
    absl::StatusOr<storage::CursorInfo> c = n.log->GetCursor(PartitionId(key.first), key.second);
    if (!c.ok() && !absl::IsNotFound(c.status())) return Fail("GetCursor: " + c.status().ToString());
    const std::optional<Offset> state = c.ok() ? std::optional<Offset>(c->offset) : std::nullopt;
    if (!may.count(state)) {
      return Fail("node " + std::to_string(n.id.value()) + ": cursor " + key.second +
                  " of partition " + std::to_string(key.first) + " is " + ShowOne(state) +
                  ", its commits allow " + Show(may));
    }
  }
  return absl::OkStatus();
}

absl::Status LogSimulation::CheckMetadata(SimLogNode& n) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> all = n.log->ScanState("");
  if (!all.ok()) return Fail("ScanState: " + all.status().ToString());
  std::map<std::string, std::string> have(all->begin(), all->end());
  for (const auto& [key, value] : have) {
    if (!state_keys_.count(key)) return Fail("metadata key " + key + " nobody wrote");
  }
  for (const auto& [key, h] : state_keys_) {
    std::set<std::optional<std::string>> may{std::nullopt};
    for (const KeyOp& op : h.ops) {
      const std::optional<std::string> effect =
          op.kind == KeyOp::Kind::kPut ? std::optional<std::string>(op.value) : std::nullopt;
      if (op.outcome == Outcome::kAcked) {
        may = {effect};
      } else if (op.outcome != Outcome::kRejected) {
        may.insert(effect);
      }
    }
    auto it = have.find(key);
    const std::optional<std::string> state =
        it == have.end() ? std::nullopt : std::optional<std::string>(it->second);
    if (!may.count(state)) {
      return Fail("node " + std::to_string(n.id.value()) + ": metadata key " + key + " is " +
                  ShowOne(state) + ", its writes allow " + Show(may));
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::sim::logsim
