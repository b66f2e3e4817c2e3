// sluicectl: the Sluice admin CLI, over the gRPC admin API (proto/admin.proto).
// Usage, commands and exit codes: tools/README.md, or `sluicectl --help`.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "proto/admin.grpc.pb.h"
#include "tools/sluicectl/cli.h"

namespace sluice::ctl {
namespace {

namespace pb = ::sluice::admin::v1;

constexpr char kDefaultServer[] = "127.0.0.1:9883";
constexpr char kServerEnv[] = "SLUICE_ADMIN";

// ---- Command table --------------------------------------------------------------------------

struct Ctx;
using Run = std::function<int(Ctx&, const ParsedArgs&)>;

struct Command {
  std::string group;   // "clients"; for a top-level leaf: its name
  std::string name;    // "list"; empty for a top-level leaf ("status")
  std::string args;    // positional arguments, for usage: "CLIENT_ID"
  size_t min_args = 0, max_args = 0;
  std::string summary;
  std::string details;
  std::vector<FlagSpec> flags;
  Run run;
  std::string Path() const { return name.empty() ? group : group + " " + name; }
};

struct Group {
  std::string name;
  std::string summary;
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"server", "s", false, false, "HOST:PORT",
       std::string("admin API address (default: $") + kServerEnv + ", else " + kDefaultServer + ")"},
      {"output", "o", false, false, "FORMAT", "output format: table (default) or json"},
      {"timeout", "", false, false, "SECONDS", "give up on the server after this long (default 10)"},
      {"help", "h", true, false, "", "show help for the command"},
  };
  return kFlags;
}

// ---- Context: channel, stub, output, error reporting ------------------------------------

struct Ctx {
  std::string server;
  bool json = false;
  int timeout_s = 10;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Admin::Stub> stub;

  std::unique_ptr<grpc::ClientContext> Call() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
    return c;
  }

  // Reports a failed call on stderr; returns the exit code for it.
  int Fail(const grpc::Status& s) {
    bool unreachable = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                       (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                        channel->GetState(false) != GRPC_CHANNEL_READY);
    if (unreachable) {
      std::cerr << "sluicectl: cannot reach the Sluice admin API at " << server << " ("
                << s.error_message() << ")\n"
                << "  Is sluiced running with --admin-listen=" << server
                << "? Set --server or $" << kServerEnv << ".\n";
      return kExitUnreachable;
    }
    std::cerr << "sluicectl: error: " << s.error_message() << " (" << CodeName(s.error_code())
              << ")\n";
    return kExitServerError;
  }

  void PrintJson(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, options);
    std::cout << out;
    if (out.empty() || out.back() != '\n') std::cout << "\n";
  }

  static const char* CodeName(grpc::StatusCode c) {
    switch (c) {
      case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
      case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
      case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
      case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
      case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
      case grpc::StatusCode::INTERNAL: return "INTERNAL";
      default: return "ERROR";
    }
  }
};

int Usage(const std::string& message) {
  std::cerr << "sluicectl: " << message << "\n";
  return kExitUsage;
}

// Page size flag: 1..10000.
bool PageSize(const ParsedArgs& a, uint32_t* out, int* exit_code) {
  unsigned long long v = 100;
  if (a.Has("limit") && !ParseUint(a.Get("limit"), 1, 10000, &v)) {
    *exit_code = Usage("--limit must be an integer from 1 to 10000, got '" + a.Get("limit") + "'");
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

// "2026-11-22 04:05:06 UTC" for Unix seconds; "-" for 0.
std::string UnixTime(long long s) {
  if (s <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// "1h2m3s ago" for Unix seconds in the past.
std::string Ago(long long s) {
  long long now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return HumanDuration(now > s ? now - s : 0) + " ago";
}

// ---- Commands -------------------------------------------------------------------------------

int CmdStatus(Ctx& ctx, const ParsedArgs&) {
  pb::NodeStatus s;
  grpc::Status st = ctx.stub->GetStatus(ctx.Call().get(), pb::GetStatusRequest(), &s);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(s), kExitOk;
  std::vector<std::vector<std::string>> rows = {
      {"VERSION", s.version()},
      {"ROLE", s.role()},
      {"UPTIME", HumanDuration(s.uptime_s())},
      {"SHARDS", std::to_string(s.shards())},
      {"CONNECTIONS", std::to_string(s.connections_current())},
      {"SESSIONS", std::to_string(s.sessions())},
      {"SUBSCRIPTIONS", std::to_string(s.subscriptions())},
      {"RETAINED", std::to_string(s.retained())},
      {"MESSAGES IN", std::to_string(s.messages_received())},
      {"MESSAGES OUT", std::to_string(s.messages_delivered())},
      {"DROPPED", std::to_string(s.messages_dropped())},
  };
  for (const auto& l : s.listeners()) rows.push_back({"LISTENER " + l.name(), l.address()});
  rows.push_back({"MEMBERS", s.members().empty() ? "(standalone)" : ""});
  for (const auto& m : s.members()) rows.back()[1] += m + " ";
  size_t w = 0;
  for (auto& r : rows) w = std::max(w, r[0].size());
  for (auto& r : rows) std::cout << r[0] << std::string(w - r[0].size() + 2, ' ') << r[1] << "\n";
  return kExitOk;
}

// The cluster as the node at --server sees it; exit 0 only when that node is ready.
int CmdClusterStatus(Ctx& ctx, const ParsedArgs&) {
  pb::ClusterStatus c;
  grpc::Status st = ctx.stub->GetCluster(ctx.Call().get(), pb::GetClusterRequest(), &c);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) {
    ctx.PrintJson(c);
  } else {
    std::vector<std::vector<std::string>> table;
    for (const auto& m : c.members())
      table.push_back({std::to_string(m.node_id()) + (m.self() ? " (this node)" : ""),
                       m.address(), m.self() ? "-" : (m.reachable() ? "yes" : "NO"),
                       std::to_string(m.partitions_led()),
                       m.self() ? "-" : std::to_string(m.max_lag_entries()),
                       m.self() ? "-" : std::to_string(m.link_queued()),
                       m.self() ? "-" : std::to_string(m.link_dropped())});
    PrintTable(std::cout,
               {"NODE", "ADDRESS", "REACHABLE", "LEADS", "MAX LAG", "LINK QUEUED", "LINK DROPPED"},
               table);
    std::cout << "\n" << c.partitions() << " partitions, " << c.partitions_without_leader()
              << " without a leader, " << c.partitions_catching_up() << " catching up here\n"
              << (c.ready() ? "READY" : "NOT READY: " + c.not_ready_reason()) << "\n";
  }
  return c.ready() ? kExitOk : kExitServerError;
}

std::vector<std::string> ClientRow(const pb::Client& c) {
  return {c.client_id(),
          c.connected() ? "connected" : "offline",
          c.protocol(),
          c.session_expiry_s() < 0 ? "never" : std::to_string(c.session_expiry_s()) + "s",
          std::to_string(c.subscriptions()),
          std::to_string(c.inflight()),
          std::to_string(c.queued()),
          std::to_string(c.lag_records()),
          std::to_string(c.dropped_queue_full() + c.dropped_expired()),
          std::to_string(c.shard()),
          c.peer_address().empty() ? "-" : c.peer_address()};
}
const std::vector<std::string> kClientHeader = {"CLIENT ID", "STATE",  "PROTOCOL", "EXPIRY",
                                                "SUBS",      "INFLIGHT", "QUEUED", "LAG",
                                                "DROPPED",   "SHARD",  "PEER"};

int CmdClientsList(Ctx& ctx, const ParsedArgs& a) {
  pb::ListClientsRequest req;
  req.set_prefix(a.Get("prefix"));
  std::string state = a.Get("state", "all");
  if (state == "connected") {
    req.set_state(pb::ListClientsRequest::CONNECTED);
  } else if (state == "disconnected" || state == "offline") {
    req.set_state(pb::ListClientsRequest::DISCONNECTED);
  } else if (state != "all") {
    return Usage("--state must be all, connected or disconnected, got '" + state + "'");
  }
  int code;
  uint32_t page;
  if (!PageSize(a, &page, &code)) return code;
  req.set_page_size(page);
  req.set_page_token(a.Get("page-token"));
  pb::ListClientsResponse all;
  while (true) {
    pb::ListClientsResponse resp;
    grpc::Status st = ctx.stub->ListClients(ctx.Call().get(), req, &resp);
    if (!st.ok()) return ctx.Fail(st);
    all.mutable_clients()->MergeFrom(resp.clients());
    all.set_next_page_token(resp.next_page_token());
    if (!a.Has("all") || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  if (ctx.json) return ctx.PrintJson(all), kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : all.clients()) rows.push_back(ClientRow(c));
  if (rows.empty()) {
    std::cout << "No clients.\n";
  } else {
    PrintTable(std::cout, kClientHeader, rows);
  }
  if (!all.next_page_token().empty())
    std::cout << "(more: --page-token=" << all.next_page_token() << ", or --all)\n";
  return kExitOk;
}

int CmdClientsGet(Ctx& ctx, const ParsedArgs& a) {
  pb::GetClientRequest req;
  req.set_client_id(a.positional[0]);
  pb::Client c;
  grpc::Status st = ctx.stub->GetClient(ctx.Call().get(), req, &c);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(c), kExitOk;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"CLIENT ID", c.client_id()},
      {"STATE", c.connected() ? "connected" : "offline"},
      {"PROTOCOL", c.protocol()},
      {"SESSION EXPIRY", c.session_expiry_s() < 0 ? "never" : std::to_string(c.session_expiry_s()) + "s"},
      {"SUBSCRIPTIONS", std::to_string(c.subscriptions())},
      {"INFLIGHT", std::to_string(c.inflight())},
      {"QUEUED", std::to_string(c.queued())},
      {"LAG (RECORDS)", std::to_string(c.lag_records())},
      {"READ FROM LOG", std::to_string(c.read_from_log())},
      {"LOST TO RETENTION", std::to_string(c.records_lost())},
      {"DROPPED (QUEUE FULL)", std::to_string(c.dropped_queue_full())},
      {"DROPPED (EXPIRED)", std::to_string(c.dropped_expired())},
      {"WILL PENDING", YesNo(c.will_pending())},
      {"SHARD", std::to_string(c.shard())},
  };
  if (c.connected()) {
    rows.insert(rows.begin() + 2, {"PEER", c.peer_address().empty() ? "-" : c.peer_address()});
    rows.insert(rows.begin() + 3, {"CONNECTED SINCE", UnixTime(c.connected_since_unix_s()) + " (" +
                                                          Ago(c.connected_since_unix_s()) + ")"});
  }
  for (const auto& l : c.lag())
    rows.push_back({"  LAG, PARTITION " + std::to_string(l.partition()), std::to_string(l.records())});
  size_t w = 0;
  for (auto& r : rows) w = std::max(w, r.first.size());
  for (auto& r : rows) std::cout << r.first << std::string(w - r.first.size() + 2, ' ') << r.second << "\n";
  return kExitOk;
}

int CmdClientsKick(Ctx& ctx, const ParsedArgs& a) {
  pb::KickClientRequest req;
  req.set_client_id(a.positional[0]);
  req.set_discard_session(a.Has("discard-session"));
  pb::KickClientResponse resp;
  grpc::Status st = ctx.stub->KickClient(ctx.Call().get(), req, &resp);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) {
    std::cout << "{\"client_id\": \"" << req.client_id() << "\", \"kicked\": true, "
              << "\"session_discarded\": " << (req.discard_session() ? "true" : "false") << "}\n";
  } else {
    std::cout << "client '" << req.client_id() << "' disconnected"
              << (req.discard_session() ? " and its session discarded" : "") << "\n";
  }
  return kExitOk;
}

int CmdSubscriptionsList(Ctx& ctx, const ParsedArgs& a) {
  pb::ListSubscriptionsRequest req;
  req.set_client_id(a.Get("client"));
  req.set_filter(a.Get("filter"));
  int code;
  uint32_t page;
  if (!PageSize(a, &page, &code)) return code;
  req.set_page_size(page);
  req.set_page_token(a.Get("page-token"));
  pb::ListSubscriptionsResponse all;
  while (true) {
    pb::ListSubscriptionsResponse resp;
    grpc::Status st = ctx.stub->ListSubscriptions(ctx.Call().get(), req, &resp);
    if (!st.ok()) return ctx.Fail(st);
    all.mutable_subscriptions()->MergeFrom(resp.subscriptions());
    all.set_next_page_token(resp.next_page_token());
    if (!a.Has("all") || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  if (ctx.json) return ctx.PrintJson(all), kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : all.subscriptions()) {
    std::string options;
    if (s.no_local()) options += "no-local ";
    if (s.retain_as_published()) options += "rap ";
    if (s.retain_handling()) options += "rh=" + std::to_string(s.retain_handling()) + " ";
    if (s.subscription_id()) options += "id=" + std::to_string(s.subscription_id()) + " ";
    if (!options.empty()) options.pop_back();
    rows.push_back({s.client_id(), s.filter(), std::to_string(s.qos()), options.empty() ? "-" : options});
  }
  if (rows.empty()) {
    std::cout << "No subscriptions.\n";
  } else {
    PrintTable(std::cout, {"CLIENT ID", "FILTER", "QOS", "OPTIONS"}, rows);
  }
  if (!all.next_page_token().empty())
    std::cout << "(more: --page-token=" << all.next_page_token() << ", or --all)\n";
  return kExitOk;
}

std::string ExpiryText(int64_t s) { return s < 0 ? "never" : std::to_string(s) + "s"; }

int CmdRetainedList(Ctx& ctx, const ParsedArgs& a) {
  pb::ListRetainedRequest req;
  req.set_filter(a.Get("filter", "#"));
  req.set_include_payload(!ctx.json || a.Has("payload"));
  int code;
  uint32_t page;
  if (!PageSize(a, &page, &code)) return code;
  req.set_page_size(page);
  req.set_page_token(a.Get("page-token"));
  pb::ListRetainedResponse all;
  while (true) {
    pb::ListRetainedResponse resp;
    grpc::Status st = ctx.stub->ListRetained(ctx.Call().get(), req, &resp);
    if (!st.ok()) return ctx.Fail(st);
    all.mutable_messages()->MergeFrom(resp.messages());
    all.set_next_page_token(resp.next_page_token());
    if (!a.Has("all") || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  if (ctx.json) return ctx.PrintJson(all), kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : all.messages())
    rows.push_back({m.topic(), std::to_string(m.qos()), std::to_string(m.payload_bytes()),
                    HumanDuration(m.age_s()), ExpiryText(m.expires_in_s()),
                    PayloadPreview(m.payload())});
  if (rows.empty()) {
    std::cout << "No retained messages match '" << req.filter() << "'.\n";
  } else {
    PrintTable(std::cout, {"TOPIC", "QOS", "BYTES", "AGE", "EXPIRES IN", "PAYLOAD"}, rows);
  }
  if (!all.next_page_token().empty())
    std::cout << "(more: --page-token=" << all.next_page_token() << ", or --all)\n";
  return kExitOk;
}

int CmdRetainedGet(Ctx& ctx, const ParsedArgs& a) {
  pb::GetRetainedRequest req;
  req.set_topic(a.positional[0]);
  pb::RetainedMessage m;
  grpc::Status st = ctx.stub->GetRetained(ctx.Call().get(), req, &m);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(m), kExitOk;
  if (a.Has("raw")) {
    std::cout << m.payload();
    return kExitOk;
  }
  std::cout << "TOPIC       " << m.topic() << "\nQOS         " << m.qos() << "\nBYTES       "
            << m.payload_bytes() << "\nPUBLISHER   " << (m.publisher().empty() ? "(broker)" : m.publisher())
            << "\nAGE         " << HumanDuration(m.age_s()) << "\nEXPIRES IN  "
            << ExpiryText(m.expires_in_s()) << "\nPAYLOAD     " << PayloadPreview(m.payload(), 200)
            << "\n";
  return kExitOk;
}

int CmdRetainedDelete(Ctx& ctx, const ParsedArgs& a) {
  pb::DeleteRetainedRequest req;
  req.set_topic(a.positional[0]);
  pb::DeleteRetainedResponse resp;
  grpc::Status st = ctx.stub->DeleteRetained(ctx.Call().get(), req, &resp);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) {
    std::cout << "{\"topic\": \"" << req.topic() << "\", \"deleted\": true}\n";
  } else {
    std::cout << "retained message on '" << req.topic() << "' deleted\n";
  }
  return kExitOk;
}

// "7d0h0m0s" / "1.0 GiB" / "none" for a retention limit (0 = none).
std::string LimitMs(long long ms) { return ms > 0 ? HumanDuration(ms / 1000) : "none"; }
std::string LimitBytes(unsigned long long b) { return b > 0 ? HumanBytes(b) : "none"; }

std::string RetentionText(const pb::RetentionLimits& r) {
  return "time " + LimitMs(r.retention_ms()) + ", size " + LimitBytes(r.retention_bytes()) +
         " per partition; hard limits (may delete what sessions and the bridge still need): time " +
         LimitMs(r.hard_retention_ms()) + ", size " + LimitBytes(r.hard_retention_bytes());
}

// "1*,2,3+40": the replicas, * the leader, +N a follower's lag in Raft entries (known on the
// leader only); "-" for a single-node log.
std::string ReplicasText(const pb::Partition& p) {
  if (p.replicas().empty()) return "-";
  std::string out;
  for (const auto& r : p.replicas()) {
    if (!out.empty()) out += ",";
    out += std::to_string(r.node_id());
    if (r.leader()) out += "*";
    if (!r.leader() && r.lag_entries() > 0) out += "+" + std::to_string(r.lag_entries());
  }
  return out;
}

int CmdPartitionsList(Ctx& ctx, const ParsedArgs&) {
  pb::ListPartitionsResponse resp;
  grpc::Status st = ctx.stub->ListPartitions(ctx.Call().get(), pb::ListPartitionsRequest(), &resp);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(resp), kExitOk;
  if (resp.partitions().empty()) {
    std::cout << "No partitions";
    if (!resp.note().empty()) std::cout << ": " << resp.note();
    std::cout << ".\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  uint64_t records = 0, bytes = 0;
  for (const auto& p : resp.partitions()) {
    rows.push_back({std::to_string(p.id()), std::to_string(p.start_offset()),
                    std::to_string(p.end_offset()), std::to_string(p.records()),
                    std::to_string(p.size_bytes()), std::to_string(p.cursor_count()),
                    std::to_string(p.records_deleted()),
                    std::to_string(p.records_deleted_past_cursor()),
                    p.leader().empty() ? "-" : p.leader(), std::to_string(p.raft_term()),
                    std::to_string(p.raft_commit_index()), ReplicasText(p)});
    records += p.records();
    bytes += p.size_bytes();
  }
  PrintTable(std::cout,
             {"PARTITION", "START", "END", "RECORDS", "BYTES", "CURSORS", "DELETED",
              "PAST CURSOR", "LEADER", "TERM", "COMMIT", "REPLICAS"},
             rows);
  std::cout << "\n" << resp.partitions_size() << " partitions, " << records << " records, "
            << HumanBytes(bytes) << "\nRetention: " << RetentionText(resp.partitions(0).retention())
            << "\n";
  return kExitOk;
}

int CmdPartitionsGet(Ctx& ctx, const ParsedArgs& a) {
  unsigned long long id;
  if (!ParseUint(a.positional[0], 0, 0xffffffffULL, &id))
    return Usage("PARTITION must be a partition number (0, 1, ...), got '" + a.positional[0] + "'");
  pb::GetPartitionRequest req;
  req.set_partition(static_cast<uint32_t>(id));
  pb::Partition p;
  grpc::Status st = ctx.stub->GetPartition(ctx.Call().get(), req, &p);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(p), kExitOk;
  const auto& r = p.retention();
  std::vector<std::pair<std::string, std::string>> rows = {
      {"PARTITION", std::to_string(p.id())},
      {"LOG START", std::to_string(p.start_offset())},
      {"HIGH WATERMARK", std::to_string(p.end_offset())},
      {"RECORDS", std::to_string(p.records())},
      {"SIZE", std::to_string(p.size_bytes()) + " bytes (" + HumanBytes(p.size_bytes()) + ")"},
      {"NEWEST RECORD", p.max_log_time_unix_ms() > 0 ? UnixTime(p.max_log_time_unix_ms() / 1000) : "-"},
      {"RETENTION", "time " + LimitMs(r.retention_ms()) + ", size " + LimitBytes(r.retention_bytes())},
      {"HARD RETENTION", "time " + LimitMs(r.hard_retention_ms()) + ", size " +
                             LimitBytes(r.hard_retention_bytes())},
      {"DELETED", std::to_string(p.records_deleted()) + " records by retention (since start)"},
      {"DELETED PAST CURSOR", std::to_string(p.records_deleted_past_cursor()) +
                                  " records a live cursor still needed (hard limits)"},
      {"LEADER", p.leader().empty() ? "-" : p.leader()},
      {"RAFT TERM", std::to_string(p.raft_term())},
      {"RAFT COMMIT", std::to_string(p.raft_commit_index())},
      {"RAFT APPLIED", std::to_string(p.raft_applied_index())},
      {"LEADER CHANGES", std::to_string(p.raft_leader_changes())},
      {"REPLICAS", ReplicasText(p)},
      {"CURSORS", std::to_string(p.cursor_count())},
  };
  size_t w = 0;
  for (auto& row : rows) w = std::max(w, row.first.size());
  for (auto& row : rows)
    std::cout << row.first << std::string(w - row.first.size() + 2, ' ') << row.second << "\n";
  if (!p.cursors().empty()) {
    std::cout << "\n";
    std::vector<std::vector<std::string>> table;
    for (const auto& c : p.cursors())
      table.push_back({c.name(), std::to_string(c.offset()), std::to_string(c.lag()),
                       c.updated_unix_ms() > 0 ? Ago(c.updated_unix_ms() / 1000) : "-",
                       c.expiry_ms() > 0 ? HumanDuration(c.expiry_ms() / 1000) : "never",
                       YesNo(c.live())});
    PrintTable(std::cout, {"CURSOR", "OFFSET", "LAG", "UPDATED", "EXPIRY", "LIVE"}, table);
  }
  return kExitOk;
}

int PrintBridge(Ctx& ctx, const pb::BridgeStatus& b) {
  if (ctx.json) return ctx.PrintJson(b), kExitOk;
  std::cout << "STATE   " << b.state() << "\n";
  if (!b.note().empty()) std::cout << "NOTE    " << b.note() << "\n";
  if (b.state() == "unavailable") return kExitOk;
  std::cout << "LAG     " << b.lag_messages() << "\nERRORS  " << b.errors() << "\n";
  if (!b.workers().empty()) {
    std::cout << "\nMQTT -> Kafka (per rule and log partition)\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : b.workers())
      rows.push_back({w.rule(), std::to_string(w.partition()), w.state(),
                      std::to_string(w.checkpoint()), std::to_string(w.high_watermark()),
                      std::to_string(w.lag()), std::to_string(w.inflight()),
                      std::to_string(w.delivered()), std::to_string(w.delivery_failures()),
                      std::to_string(w.resent_after_ack()), std::to_string(w.skipped_unmappable()),
                      w.last_error().empty()
                          ? "-"
                          : w.last_error() + " (" + HumanDuration(w.last_error_age_s()) + " ago)"});
    PrintTable(std::cout,
               {"RULE", "PARTITION", "STATE", "CHECKPOINT", "END", "LAG", "INFLIGHT", "DELIVERED",
                "FAILURES", "RESENT", "SKIPPED", "LAST ERROR"},
               rows);
  }
  if (!b.consumers().empty()) {
    std::cout << "\nKafka -> MQTT (per rule)\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : b.consumers())
      rows.push_back({c.rule(), c.state().empty() ? "running" : c.state(),
                      std::to_string(c.consumed()), std::to_string(c.published()),
                      std::to_string(c.publish_failures()), std::to_string(c.skipped_unmappable()),
                      std::to_string(c.consumer_errors()),
                      c.last_error().empty() ? "-" : c.last_error()});
    PrintTable(std::cout,
               {"RULE", "STATE", "CONSUMED", "PUBLISHED", "FAILURES", "SKIPPED", "ERRORS",
                "LAST ERROR"},
               rows);
  }
  return kExitOk;
}

int CmdBridgeStatus(Ctx& ctx, const ParsedArgs&) {
  pb::BridgeStatus b;
  grpc::Status st = ctx.stub->GetBridgeStatus(ctx.Call().get(), pb::GetBridgeStatusRequest(), &b);
  if (!st.ok()) return ctx.Fail(st);
  return PrintBridge(ctx, b);
}

int CmdBridgeControl(Ctx& ctx, const ParsedArgs& a, bool pause) {
  pb::BridgeControlRequest req;
  if (a.Has("rule")) {
    if (a.Get("rule").empty()) return Usage("--rule needs a rule name");
    req.set_rule(a.Get("rule"));
  }
  pb::BridgeStatus b;
  grpc::Status st = pause ? ctx.stub->PauseBridge(ctx.Call().get(), req, &b)
                          : ctx.stub->ResumeBridge(ctx.Call().get(), req, &b);
  if (!st.ok()) return ctx.Fail(st);
  if (!ctx.json) {
    std::cout << (req.rule().empty() ? std::string("every rule") : "rule '" + req.rule() + "'")
              << (pause ? " paused" : " resumed") << "\n\n";
  }
  return PrintBridge(ctx, b);
}

int CmdConfigGet(Ctx& ctx, const ParsedArgs& a) {
  pb::ConfigView view;
  grpc::Status st = ctx.stub->GetConfig(ctx.Call().get(), pb::GetConfigRequest(), &view);
  if (!st.ok()) return ctx.Fail(st);
  if (!a.positional.empty()) {
    std::string key = a.positional[0];
    std::replace(key.begin(), key.end(), '-', '_');
    for (const auto& s : view.settings()) {
      if (s.key() != key) continue;
      if (ctx.json) return ctx.PrintJson(s), kExitOk;
      std::cout << s.value() << "\n";
      return kExitOk;
    }
    return Usage("unknown setting '" + a.positional[0] + "' (see `sluicectl config get`)");
  }
  if (ctx.json) return ctx.PrintJson(view), kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : view.settings())
    rows.push_back({s.key(), s.value().empty() ? "\"\"" : s.value(), s.runtime() ? "yes" : "no (restart)"});
  PrintTable(std::cout, {"KEY", "VALUE", "RELOADABLE"}, rows);
  if (!view.config_file().empty()) std::cout << "(config file: " << view.config_file() << ")\n";
  return kExitOk;
}

int CmdConfigReload(Ctx& ctx, const ParsedArgs& a) {
  pb::ReloadConfigRequest req;
  if (a.Has("set")) {
    for (const std::string& kv : a.flags.at("set")) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        return Usage("--set takes KEY=VALUE, got '" + kv + "'");
      (*req.mutable_set())[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  pb::ReloadConfigResponse resp;
  grpc::Status st = ctx.stub->ReloadConfig(ctx.Call().get(), req, &resp);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(resp), kExitOk;
  if (resp.changed().empty()) {
    std::cout << "configuration reloaded: no runtime setting changed\n";
  } else {
    std::cout << "configuration reloaded; changed:";
    for (const auto& k : resp.changed()) std::cout << " " << k;
    std::cout << "\n";
  }
  if (!resp.restart_required().empty()) {
    std::cout << "not applied (restart sluiced to change):";
    for (const auto& k : resp.restart_required()) std::cout << " " << k;
    std::cout << "\n";
  }
  return kExitOk;
}

int CmdLogLevelGet(Ctx& ctx, const ParsedArgs&) {
  pb::LogLevel l;
  grpc::Status st = ctx.stub->GetLogLevel(ctx.Call().get(), pb::GetLogLevelRequest(), &l);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(l), kExitOk;
  std::cout << l.level() << "\n";
  return kExitOk;
}

int CmdLogLevelSet(Ctx& ctx, const ParsedArgs& a) {
  pb::SetLogLevelRequest req;
  req.set_level(a.positional[0]);
  pb::LogLevel l;
  grpc::Status st = ctx.stub->SetLogLevel(ctx.Call().get(), req, &l);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.json) return ctx.PrintJson(l), kExitOk;
  std::cout << "log level set to " << l.level() << "\n";
  return kExitOk;
}

const FlagSpec kLimit{"limit", "", false, false, "N", "entries per page, 1..10000 (default 100)"};
const FlagSpec kPageToken{"page-token", "", false, false, "TOKEN", "continue a previous listing"};
const FlagSpec kAll{"all", "", true, false, "", "follow every page"};

const std::vector<Group>& Groups() {
  static const std::vector<Group> kGroups = {
      {"status", "Show the node's status: version, uptime, role, listeners, counts"},
      {"clients", "List, inspect and disconnect clients"},
      {"sessions", "List sessions (online and offline) with their lag in the commit log"},
      {"subscriptions", "List subscriptions, by client or by filter"},
      {"retained", "List, inspect and delete retained messages"},
      {"cluster", "The cluster as one node sees it: members, links, leaders, readiness"},
      {"partitions", "Inspect the commit log's partitions"},
      {"bridge", "Kafka bridge status, pause and resume"},
      {"config", "Show the configuration and reload runtime settings"},
      {"log-level", "Show or change the log level"},
  };
  return kGroups;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"status", "", "", 0, 0, "Show the node's status",
       "Version, uptime, role (standalone until clustering), shards, listeners and counts.", {},
       CmdStatus},
      {"clients", "list", "", 0, 0, "List clients (sessions, online and offline)",
       "Ordered by client id, one page at a time.",
       {{"prefix", "", false, false, "PREFIX", "only client ids starting with PREFIX"},
        {"state", "", false, false, "STATE", "all (default), connected or disconnected"},
        kLimit, kPageToken, kAll},
       CmdClientsList},
      {"sessions", "list", "", 0, 0, "List sessions with their lag (as clients list)",
       "Ordered by client id, one page at a time. LAG: records of the commit log behind the "
       "session, from the first one it still needs to the high watermark.",
       {{"prefix", "", false, false, "PREFIX", "only client ids starting with PREFIX"},
        {"state", "", false, false, "STATE", "all (default), connected or disconnected"},
        kLimit, kPageToken, kAll},
       CmdClientsList},
      {"clients", "get", "CLIENT_ID", 1, 1, "Show one client's session", "", {}, CmdClientsGet},
      {"clients", "show", "CLIENT_ID", 1, 1, "Show one client's session (as get)", "", {},
       CmdClientsGet},
      {"clients", "kick", "CLIENT_ID", 1, 1, "Disconnect a client",
       "MQTT 5 clients receive DISCONNECT 0x98 (administrative action); the will is not sent.\n"
       "A session with an expiry interval is kept unless --discard-session is given.",
       {{"discard-session", "", true, false, "", "also end the session (works for offline ones)"}},
       CmdClientsKick},
      {"subscriptions", "list", "", 0, 0, "List subscriptions",
       "Ordered by client id, then filter.",
       {{"client", "", false, false, "CLIENT_ID", "only this client's subscriptions"},
        {"filter", "", false, false, "FILTER", "only subscriptions to exactly this filter"},
        kLimit, kPageToken, kAll},
       CmdSubscriptionsList},
      {"retained", "list", "", 0, 0, "List retained messages",
       "Ordered by topic. The default filter '#' does not match topics starting with '$'\n"
       "(MQTT rule): use --filter '$SYS/#' for those.",
       {{"filter", "", false, false, "FILTER", "topic filter (default '#')"},
        {"payload", "", true, false, "", "include payloads in -o json output"},
        kLimit, kPageToken, kAll},
       CmdRetainedList},
      {"retained", "get", "TOPIC", 1, 1, "Show the retained message of a topic", "",
       {{"raw", "", true, false, "", "print only the payload bytes"}}, CmdRetainedGet},
      {"retained", "delete", "TOPIC", 1, 1, "Delete the retained message of a topic",
       "New subscribers no longer receive it. Fails with NOT_FOUND if there is none.", {},
       CmdRetainedDelete},
      {"cluster", "status", "", 0, 0, "Show the cluster's members, leaders and readiness",
       "As the node at --server sees it: every member with its cluster address, whether this\n"
       "node's link to it is up, how many partitions it leads, its worst replication lag (in\n"
       "Raft entries, on the partitions the answering node leads) and its node link's queue\n"
       "and drops; then the partitions without a leader and the node's readiness (as /readyz).\n"
       "Exit 0 when the node is ready, 1 when not. FAILED_PRECONDITION on a standalone sluiced.",
       {}, CmdClusterStatus},
      {"partitions", "list", "", 0, 0, "List the commit log's partitions",
       "Per partition: log start and end (high watermark) offsets, records, size in bytes,\n"
       "cursors (persistent sessions, bridge rules), records deleted by retention (and of those,\n"
       "records a live cursor still needed: hard limits), leader and Raft term/commit index.\n"
       "Then the retention limits in force.",
       {}, CmdPartitionsList},
      {"partitions", "get", "PARTITION", 1, 1, "Show one partition and its cursors",
       "Everything 'partitions list' shows, the newest record's time, Raft applied index and\n"
       "leader changes, and each cursor: its offset (the next record its consumer reads),\n"
       "lag (high watermark - offset), last commit and expiry.",
       {}, CmdPartitionsGet},
      {"bridge", "status", "", 0, 0, "Show the Kafka bridge's state",
       "Overall state, total lag and errors; then per MQTT->Kafka rule and log partition its\n"
       "state, checkpoint (the durable cursor), log end, lag, in-flight records, counters and\n"
       "last error; then per Kafka->MQTT rule its counters. 'unavailable' when sluiced runs\n"
       "without a `bridge:` section in its config file.",
       {}, CmdBridgeStatus},
      {"bridge", "pause", "", 0, 0, "Pause the Kafka bridge (every rule, or one)",
       "A paused MQTT->Kafka rule reads and produces nothing: deliveries already under way still\n"
       "complete and are checkpointed, and the log keeps what was not sent (the rule's cursor\n"
       "holds retention back). A paused Kafka->MQTT rule fetches nothing (it stays in its\n"
       "consumer group). Not persisted: a restarted sluiced runs every rule.",
       {{"rule", "", false, false, "RULE", "only this rule (either direction)"}},
       [](Ctx& c, const ParsedArgs& a) { return CmdBridgeControl(c, a, true); }},
      {"bridge", "resume", "", 0, 0, "Resume the Kafka bridge (every rule, or one)",
       "Paused rules continue where they stopped: nothing is skipped.",
       {{"rule", "", false, false, "RULE", "only this rule (either direction)"}},
       [](Ctx& c, const ParsedArgs& a) { return CmdBridgeControl(c, a, false); }},
      {"config", "get", "[KEY]", 0, 1, "Show the effective configuration (or one KEY's value)",
       "RELOADABLE settings can change without a restart (config reload).", {}, CmdConfigGet},
      {"config", "reload", "", 0, 0, "Reload runtime settings",
       "Without --set, sluiced re-reads its --config file (command-line flags still win) and\n"
       "applies the runtime settings in it; settings that need a restart are listed, not\n"
       "applied. With --set, only the given settings change. A bad value changes nothing.\n"
       "Runtime settings: log_level, deny_subscribe, deny_publish, max_queued_messages\n"
       "(for sessions created afterwards).",
       {{"set", "", false, true, "KEY=VALUE", "set one runtime setting (repeatable)"}},
       CmdConfigReload},
      {"log-level", "get", "", 0, 0, "Show the log level", "", {}, CmdLogLevelGet},
      {"log-level", "set", "LEVEL", 1, 1, "Set the log level (debug, info, warn, error, off)",
       "Takes effect at once; not persisted across restarts.", {}, CmdLogLevelSet},
  };
  return kCommands;
}

std::string TopHelp() {
  std::string out =
      "sluicectl: operate a Sluice MQTT broker through its admin API.\n\n"
      "Usage:\n  sluicectl [flags] COMMAND [SUBCOMMAND] [args] [flags]\n\nCommands:\n";
  for (const auto& g : Groups()) {
    out += "  " + g.name + std::string(16 - g.name.size(), ' ') + g.summary + "\n";
  }
  out += "\nFlags (accepted by every command):\n" + FlagsHelp(GlobalFlags());
  out += "\nExit codes: 0 ok, 1 the server returned an error, 2 usage error, 3 server unreachable.\n"
         "Run 'sluicectl COMMAND --help' for more about a command.\n";
  return out;
}

std::string GroupHelp(const std::string& group) {
  std::string out = "Usage:\n  sluicectl " + group + " SUBCOMMAND [args] [flags]\n\nSubcommands:\n";
  for (const auto& c : Commands())
    if (c.group == group)
      out += "  " + c.name + std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ') +
             c.summary + "\n";
  out += "\nRun 'sluicectl " + group + " SUBCOMMAND --help' for details.\n";
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out = c.summary + ".\n";
  if (!c.details.empty()) out += "\n" + c.details + "\n";
  out += "\nUsage:\n  sluicectl " + c.Path() + (c.args.empty() ? "" : " " + c.args) + " [flags]\n";
  if (!c.flags.empty()) out += "\nFlags:\n" + FlagsHelp(c.flags);
  out += "\nGlobal flags:\n" + FlagsHelp(GlobalFlags());
  return out;
}

bool IsGroup(const std::string& name) {
  for (const auto& c : Commands())
    if (c.group == name && !c.name.empty()) return true;
  return false;
}

// Indexes of the command words in args: positional tokens, skipping global flags' values.
std::vector<size_t> CommandWords(const std::vector<std::string>& args) {
  std::vector<size_t> words;
  for (size_t i = 0; i < args.size() && words.size() < 2; ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-') {
      bool takes_value = (a == "--server" || a == "-s" || a == "--output" || a == "-o" ||
                          a == "--timeout");
      if (takes_value) ++i;
      continue;
    }
    if (!words.empty() && !IsGroup(args[words[0]])) break;  // a leaf: the rest are arguments
    words.push_back(i);
  }
  return words;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<size_t> words = CommandWords(args);
  auto wants_help = [&] {
    for (const auto& a : args) {
      if (a == "--") break;
      if (a == "--help" || a == "-h") return true;
    }
    return false;
  };
  if (words.empty()) {
    if (wants_help()) {
      std::cout << TopHelp();
      return kExitOk;
    }
    std::cerr << TopHelp();
    return Usage("a command is required");
  }
  std::string group = args[words[0]];
  if (group == "help") {
    // "sluicectl help [COMMAND [SUBCOMMAND]]"
    std::vector<std::string> rest;
    for (size_t i = words[0] + 1; i < args.size(); ++i) rest.push_back(args[i]);
    args = rest;
    args.push_back("--help");
    words = CommandWords(args);
    if (words.empty()) {
      std::cout << TopHelp();
      return kExitOk;
    }
    group = args[words[0]];
  }
  bool known_group = false;
  for (const auto& g : Groups()) known_group |= g.name == group;
  if (!known_group)
    return Usage("unknown command '" + group + "'\nRun 'sluicectl --help' for the commands.");
  const Command* command = nullptr;
  if (IsGroup(group)) {
    if (words.size() < 2) {
      if (wants_help()) {
        std::cout << GroupHelp(group);
        return kExitOk;
      }
      std::cerr << GroupHelp(group);
      return Usage("'" + group + "' needs a subcommand");
    }
    const std::string& sub = args[words[1]];
    for (const auto& c : Commands())
      if (c.group == group && c.name == sub) command = &c;
    if (!command)
      return Usage("unknown subcommand '" + sub + "' for '" + group + "'\nRun 'sluicectl " +
                   group + " --help' for its subcommands.");
  } else {
    for (const auto& c : Commands())
      if (c.group == group) command = &c;
  }
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i)
    if (std::find(words.begin(), words.end(), i) == words.end()) rest.push_back(args[i]);
  std::vector<FlagSpec> specs = command->flags;
  specs.insert(specs.end(), GlobalFlags().begin(), GlobalFlags().end());
  ParsedArgs parsed;
  std::string error;
  if (!ParseArgs(rest, specs, &parsed, &error))
    return Usage(error + " for '" + command->Path() + "'\nRun 'sluicectl " + command->Path() +
                 " --help' for its flags.");
  if (parsed.Has("help")) {
    std::cout << CommandHelp(*command);
    return kExitOk;
  }
  if (parsed.positional.size() < command->min_args || parsed.positional.size() > command->max_args) {
    std::string want = command->args.empty() ? "no arguments" : command->args;
    return Usage("'" + command->Path() + "' takes " + want + ", got " +
                 std::to_string(parsed.positional.size()) + " argument(s)\nUsage: sluicectl " +
                 command->Path() + (command->args.empty() ? "" : " " + command->args));
  }

  Ctx ctx;
  const char* env = std::getenv(kServerEnv);
  ctx.server = parsed.Get("server", env && *env ? env : kDefaultServer);
  std::string output = parsed.Get("output", "table");
  if (output != "table" && output != "json")
    return Usage("--output must be table or json, got '" + output + "'");
  ctx.json = output == "json";
  if (parsed.Has("timeout")) {
    unsigned long long t;
    if (!ParseUint(parsed.Get("timeout"), 1, 3600, &t))
      return Usage("--timeout must be whole seconds from 1 to 3600, got '" + parsed.Get("timeout") + "'");
    ctx.timeout_s = static_cast<int>(t);
  }
  if (ctx.server.find(':') == std::string::npos)
    return Usage("--server must be HOST:PORT, got '" + ctx.server + "'");
  ctx.channel = grpc::CreateChannel(ctx.server, grpc::InsecureChannelCredentials());
  ctx.stub = pb::Admin::NewStub(ctx.channel);
  return command->run(ctx, parsed);
}

}  // namespace
}  // namespace sluice::ctl

int main(int argc, char** argv) { return sluice::ctl::Main(argc, argv); }
