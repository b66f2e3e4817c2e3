#include "broker/admin/admin_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <sstream>

#include "base/config.h"
#include "base/log.h"
#include "broker/cluster/cluster_view.h"
#include "broker/daemon_config.h"
#include "mqtt/topic/topic.h"
#include "proto/admin.grpc.pb.h"
#include "storage/log/partitioned_log.h"

namespace sluice::admin {
namespace {

namespace pb = ::sluice::admin::v1;
using broker::Broker;
using broker::BrokerConfig;
using broker::RuntimeConfig;

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 10000;

// absl and gRPC share the canonical code numbering.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

uint32_t PageSize(uint32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

// Offset page tokens (subscriptions, retained): a decimal offset into a stable ordering.
bool ParseOffsetToken(const std::string& token, size_t* offset) {
  *offset = 0;
  if (token.empty()) return true;
  char* end = nullptr;
  unsigned long long v = std::strtoull(token.c_str(), &end, 10);
  if (*end != '\0' || v > 100000000ULL) return false;
  *offset = static_cast<size_t>(v);
  return true;
}

std::string ProtocolName(mqtt::Version v) {
  switch (v) {
    case mqtt::Version::k31: return "3.1";
    case mqtt::Version::k311: return "3.1.1";
    case mqtt::Version::k5: return "5.0";
  }
  return "?";
}

void FillClient(const Broker::ClientInfo& c, pb::Client* out) {
  out->set_client_id(c.client_id);
  out->set_connected(c.connected);
  out->set_protocol(ProtocolName(c.version));
  out->set_shard(c.shard);
  out->set_session_expiry_s(c.expiry_s == broker::kSessionNeverExpires ? -1 : c.expiry_s);
  out->set_inflight(c.inflight);
  out->set_queued(c.queued);
  out->set_subscriptions(c.subscriptions);
  out->set_dropped_queue_full(c.dropped_queue_full);
  out->set_dropped_expired(c.dropped_expired);
  out->set_will_pending(c.will_pending);
  out->set_peer_address(c.peer);
  out->set_connected_since_unix_s(c.connected_unix_ms / 1000);
  out->set_lag_records(c.lag_records);
  for (const auto& [p, n] : c.lag) {
    pb::PartitionLag* l = out->add_lag();
    l->set_partition(p);
    l->set_records(n);
  }
  out->set_read_from_log(c.read_from_log);
  out->set_records_lost(c.records_lost);
}

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void FillRetained(const broker::Message& m, bool payload, int64_t now_ms,
                  pb::RetainedMessage* out) {
  out->set_topic(m.topic);
  if (payload) out->set_payload(m.payload);
  out->set_payload_bytes(m.payload.size());
  out->set_qos(m.qos);
  out->set_publisher(m.publisher);
  out->set_age_s(std::max<int64_t>(0, (now_ms - m.received_ms) / 1000));
  auto left = m.RemainingExpiryS(now_ms);
  out->set_expires_in_s(left ? static_cast<int64_t>(*left) : -1);
}

// One partition of the commit log; with `cursors`, its cursors too (GetPartition).
grpc::Status FillPartition(const storage::PartitionedLog& log, uint32_t id, bool cursors,
                           pb::Partition* out) {
  const PartitionId p(id);
  absl::StatusOr<storage::PartitionInfo> info = log.Info(p);
  if (!info.ok()) return ToGrpc(info.status());
  const uint64_t start = info->log_start.value(), end = info->high_watermark.value();
  out->set_id(id);
  out->set_start_offset(start);
  out->set_end_offset(end);
  out->set_records(end - start);
  out->set_size_bytes(info->bytes);
  out->set_max_log_time_unix_ms(info->max_log_time_ms);
  out->set_records_deleted(info->records_deleted);
  out->set_records_deleted_past_cursor(info->records_deleted_past_cursor);
  out->set_cursor_count(static_cast<uint32_t>(info->cursors));
  const storage::RetentionLimits& limits = log.options().retention;
  out->set_retention_s(limits.retention_ms > 0 ? limits.retention_ms / 1000 : -1);
  auto* r = out->mutable_retention();
  r->set_retention_ms(limits.retention_ms);
  r->set_retention_bytes(limits.retention_bytes);
  r->set_hard_retention_ms(limits.hard_retention_ms);
  r->set_hard_retention_bytes(limits.hard_retention_bytes);
  if (std::optional<multiraft::GroupStatus> raft = log.RaftStatus(p)) {
    const NodeId self = log.node_id();
    out->set_leader_node_id(raft->leader.value());
    out->set_is_leader(raft->leader == self && raft->state == raft::StateType::kLeader);
    if (raft->leader != NodeId())
      out->set_leader("node " + std::to_string(raft->leader.value()) +
                      (raft->leader == self ? " (this node)" : ""));
    out->set_raft_term(raft->term.value());
    out->set_raft_commit_index(raft->commit.value());
    out->set_raft_applied_index(raft->applied.value());
    out->set_raft_leader_changes(raft->leader_changes);
    if (raft->conf_state.voters.size() > 1) {  // a cluster: who replicates it, how far behind
      for (NodeId voter : raft->conf_state.voters) {
        auto* r = out->add_replicas();
        r->set_node_id(voter.value());
        r->set_leader(voter == raft->leader);
        if (voter == self && r->leader()) {
          r->set_match_index(raft->last_index.value());  // the leader has all it wrote
        } else if (auto it = raft->match.find(voter); it != raft->match.end()) {
          r->set_match_index(it->second.value());
          r->set_lag_entries(raft->last_index.value() > it->second.value()
                                 ? raft->last_index.value() - it->second.value()
                                 : 0);
        }
      }
    }
  }
  if (cursors) {
    absl::StatusOr<std::vector<storage::CursorInfo>> list = log.ListCursors(p);
    if (!list.ok()) return ToGrpc(list.status());
    const int64_t now_ms = broker::WallNowMs();
    for (const storage::CursorInfo& c : *list) {
      auto* o = out->add_cursors();
      o->set_name(c.name);
      o->set_offset(c.offset.value());
      o->set_lag(end > c.offset.value() ? end - c.offset.value() : 0);
      o->set_updated_unix_ms(c.updated_ms);
      o->set_expiry_ms(c.expiry_ms);
      o->set_live(c.Live(now_ms));
    }
  }
  return grpc::Status::OK;
}

// "key: value" lines of ConfigSchema::Dump, as a map.
std::map<std::string, std::string> DumpMap(BrokerConfig config) {
  ConfigSchema schema("sluiced", "");
  config.Register(&schema);
  std::map<std::string, std::string> out;
  std::istringstream in(schema.Dump());
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    out[line.substr(0, colon)] = value;
  }
  return out;
}

// Log levels as the config spells them ("info"; log::LevelName says "INFO").
std::string LevelText(log::Level level) {
  std::string name(log::LevelName(level));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string NormalizeKey(std::string key) {
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

}  // namespace

class AdminServer::Service final : public pb::Admin::Service {
 public:
  Service(Broker* broker, NodeInfo info) : broker_(broker), info_(std::move(info)) {}

  void AddListener(std::string name, std::string address) {
    std::lock_guard<std::mutex> lock(mu_);
    info_.listeners.emplace_back(std::move(name), std::move(address));
  }

  grpc::Status GetStatus(grpc::ServerContext*, const pb::GetStatusRequest*,
                         pb::NodeStatus* out) override {
    auto gauges = broker_->CollectGauges();
    if (!gauges.ok()) return ToGrpc(gauges.status());
    broker::StatsSnapshot stats = broker_->Stats();
    std::lock_guard<std::mutex> lock(mu_);
    out->set_version(info_.version);
    out->set_uptime_s(std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - info_.started_steady)
                          .count());
    out->set_start_time_unix_s(std::chrono::duration_cast<std::chrono::seconds>(
                                   info_.started_at.time_since_epoch())
                                   .count());
    if (broker::ClusterNode* cluster = broker_->cluster()) {
      out->set_role("cluster node " + std::to_string(cluster->self().value()));
      for (const auto& [id, address] : cluster->peers())
        out->add_members(std::to_string(id.value()) + "@" + address);
    } else {
      out->set_role("standalone");
    }
    out->set_shards(broker_->shard_count());
    for (const auto& [name, address] : info_.listeners) {
      auto* l = out->add_listeners();
      l->set_name(name);
      l->set_address(address);
    }
    out->set_connections_current(stats.connections_current);
    out->set_sessions(gauges->sessions);
    out->set_subscriptions(gauges->subscriptions);
    out->set_retained(stats.retained);
    out->set_messages_received(stats.messages_received);
    out->set_messages_delivered(stats.messages_delivered);
    out->set_messages_dropped(stats.messages_dropped);
    return grpc::Status::OK;
  }

  grpc::Status GetCluster(grpc::ServerContext*, const pb::GetClusterRequest*,
                          pb::ClusterStatus* out) override {
    broker::ClusterNode* cluster = broker_->cluster();
    broker::Durable* durable = broker_->durable();
    if (cluster == nullptr || durable == nullptr)
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "this sluiced is standalone (no --cluster-peers)");
    const broker::ClusterView v = broker::ViewOf(*cluster, durable->log());
    out->set_node_id(v.self.value());
    for (const broker::MemberView& m : v.members) {
      auto* o = out->add_members();
      o->set_node_id(m.id.value());
      o->set_address(m.address);
      o->set_self(m.self);
      o->set_reachable(m.reachable);
      o->set_partitions_led(m.partitions_led);
      o->set_link_messages_sent(m.link_messages_sent);
      o->set_link_dropped(m.link_dropped);
      o->set_link_queued(m.link_queued);
      o->set_max_lag_entries(m.max_lag_entries);
    }
    out->set_partitions(v.partitions);
    out->set_partitions_without_leader(v.partitions_without_leader);
    out->set_partitions_catching_up(v.partitions_catching_up);
    out->set_ready(!v.not_ready.has_value());
    out->set_not_ready_reason(v.not_ready.value_or(""));
    return grpc::Status::OK;
  }

  grpc::Status ListClients(grpc::ServerContext*, const pb::ListClientsRequest* req,
                           pb::ListClientsResponse* out) override {
    Broker::ClientQuery q;
    q.prefix = req->prefix();
    switch (req->state()) {
      case pb::ListClientsRequest::CONNECTED: q.state = Broker::ClientQuery::State::kConnected; break;
      case pb::ListClientsRequest::DISCONNECTED:
        q.state = Broker::ClientQuery::State::kDisconnected;
        break;
      default: break;
    }
    q.after = req->page_token();  // the last client id of the previous page
    uint32_t page = PageSize(req->page_size());
    q.limit = page + 1;  // one more tells whether there is a next page
    auto clients = broker_->ListClients(q);
    if (!clients.ok()) return ToGrpc(clients.status());
    for (size_t i = 0; i < clients->size() && i < page; ++i)
      FillClient((*clients)[i], out->add_clients());
    if (clients->size() > page) out->set_next_page_token((*clients)[page - 1].client_id);
    return grpc::Status::OK;
  }

  grpc::Status GetClient(grpc::ServerContext*, const pb::GetClientRequest* req,
                         pb::Client* out) override {
    if (req->client_id().empty()) return Invalid("client_id is required");
    auto c = broker_->GetClient(req->client_id());
    if (!c.ok()) return ToGrpc(c.status());
    FillClient(*c, out);
    return grpc::Status::OK;
  }

  grpc::Status KickClient(grpc::ServerContext*, const pb::KickClientRequest* req,
                          pb::KickClientResponse*) override {
    if (req->client_id().empty()) return Invalid("client_id is required");
    return ToGrpc(broker_->KickClient(req->client_id(), req->discard_session()));
  }

  grpc::Status ListSubscriptions(grpc::ServerContext*, const pb::ListSubscriptionsRequest* req,
                                 pb::ListSubscriptionsResponse* out) override {
    size_t offset;
    if (!ParseOffsetToken(req->page_token(), &offset)) return Invalid("bad page_token");
    if (!req->filter().empty() && !topic::IsValidTopicFilter(req->filter()))
      return Invalid("'" + req->filter() + "' is not a valid topic filter");
    uint32_t page = PageSize(req->page_size());
    auto subs = broker_->ListSubscriptions(req->client_id(), req->filter(), offset + page + 1);
    if (!subs.ok()) return ToGrpc(subs.status());
    for (size_t i = offset; i < subs->size() && i < offset + page; ++i) {
      const auto& s = (*subs)[i];
      auto* o = out->add_subscriptions();
      o->set_client_id(s.client_id);
      o->set_filter(s.filter);
      o->set_qos(s.options.qos);
      o->set_no_local(s.options.no_local);
      o->set_retain_as_published(s.options.retain_as_published);
      o->set_retain_handling(s.options.retain_handling);
      o->set_subscription_id(s.options.subscription_id);
    }
    if (subs->size() > offset + page) out->set_next_page_token(std::to_string(offset + page));
    return grpc::Status::OK;
  }

  grpc::Status ListRetained(grpc::ServerContext*, const pb::ListRetainedRequest* req,
                            pb::ListRetainedResponse* out) override {
    std::string filter = req->filter().empty() ? "#" : req->filter();
    if (!topic::IsValidTopicFilter(filter))
      return Invalid("'" + filter + "' is not a valid topic filter");
    size_t offset;
    if (!ParseOffsetToken(req->page_token(), &offset)) return Invalid("bad page_token");
    std::vector<broker::MessagePtr> all = broker_->retained().Match(filter);
    std::sort(all.begin(), all.end(),
              [](const broker::MessagePtr& a, const broker::MessagePtr& b) {
                return a->topic < b->topic;
              });
    uint32_t page = PageSize(req->page_size());
    int64_t now = SteadyNowMs();
    for (size_t i = offset; i < all.size() && i < offset + page; ++i)
      FillRetained(*all[i], req->include_payload(), now, out->add_messages());
    if (all.size() > offset + page) out->set_next_page_token(std::to_string(offset + page));
    return grpc::Status::OK;
  }

  grpc::Status GetRetained(grpc::ServerContext*, const pb::GetRetainedRequest* req,
                           pb::RetainedMessage* out) override {
    if (!topic::IsValidTopicName(req->topic()))
      return Invalid("'" + req->topic() + "' is not a topic name (no wildcards, not empty)");
    auto found = broker_->retained().Match(req->topic());
    if (found.empty())
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no retained message on topic '" + req->topic() + "'");
    FillRetained(*found.front(), true, SteadyNowMs(), out);
    return grpc::Status::OK;
  }

  grpc::Status DeleteRetained(grpc::ServerContext*, const pb::DeleteRetainedRequest* req,
                              pb::DeleteRetainedResponse*) override {
    absl::Status s = broker_->DeleteRetained(req->topic());
    if (s.ok()) SLOG(kInfo).Kv("topic", req->topic()) << "retained message deleted by administrator";
    return ToGrpc(s);
  }

  grpc::Status ListPartitions(grpc::ServerContext*, const pb::ListPartitionsRequest*,
                              pb::ListPartitionsResponse* out) override {
    broker::Durable* durable = broker_->durable();
    if (durable == nullptr)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker's commit log is not open");
    const storage::PartitionedLog& log = durable->log();
    for (uint32_t p = 0; p < log.partitions(); ++p) {
      grpc::Status st = FillPartition(log, p, false, out->add_partitions());
      if (!st.ok()) return st;
    }
    return grpc::Status::OK;
  }

  grpc::Status GetPartition(grpc::ServerContext*, const pb::GetPartitionRequest* req,
                            pb::Partition* out) override {
    broker::Durable* durable = broker_->durable();
    if (durable == nullptr)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker's commit log is not open");
    const storage::PartitionedLog& log = durable->log();
    if (req->partition() >= log.partitions())
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no partition " + std::to_string(req->partition()) + ": the log has " +
                              std::to_string(log.partitions()) + " partitions (0.." +
                              std::to_string(log.partitions() - 1) + ")");
    return FillPartition(log, req->partition(), true, out);
  }

  grpc::Status GetBridgeStatus(grpc::ServerContext*, const pb::GetBridgeStatusRequest*,
                               pb::BridgeStatus* out) override {
    if (!info_.bridge_status) {
      FillNoBridge(out);
      return grpc::Status::OK;
    }
    FillBridge(info_.bridge_status(), out);
    return grpc::Status::OK;
  }
  grpc::Status PauseBridge(grpc::ServerContext*, const pb::BridgeControlRequest* req,
                           pb::BridgeStatus* out) override {
    return BridgeControl(req->rule(), true, out);
  }
  grpc::Status ResumeBridge(grpc::ServerContext*, const pb::BridgeControlRequest* req,
                            pb::BridgeStatus* out) override {
    return BridgeControl(req->rule(), false, out);
  }

  grpc::Status GetConfig(grpc::ServerContext*, const pb::GetConfigRequest*,
                         pb::ConfigView* out) override {
    for (const auto& [key, value] : DumpMap(Effective())) {
      auto* s = out->add_settings();
      s->set_key(key);
      s->set_value(value);
      s->set_runtime(RuntimeConfig::IsRuntimeKey(key));
    }
    std::lock_guard<std::mutex> lock(mu_);
    out->set_config_file(info_.config_file);
    return grpc::Status::OK;
  }

  grpc::Status ReloadConfig(grpc::ServerContext*, const pb::ReloadConfigRequest* req,
                            pb::ReloadConfigResponse* out) override {
    std::lock_guard<std::mutex> reload_lock(reload_mu_);  // one reload at a time
    BrokerConfig before = Effective();
    BrokerConfig next = before;
    std::vector<std::string> restart_required;
    if (!req->set().empty()) {
      ConfigSchema schema("sluiced", "");
      next.Register(&schema);
      // Sorted, so that the first error reported does not depend on map order.
      std::map<std::string, std::string> set(req->set().begin(), req->set().end());
      for (const auto& [raw_key, value] : set) {
        std::string key = NormalizeKey(raw_key);
        absl::Status st = schema.Set(key, value);
        if (!st.ok()) return Invalid(std::string(st.message()) + "; nothing was changed");
        if (!RuntimeConfig::IsRuntimeKey(key))
          return Invalid("setting '" + key +
                         "' cannot change while the broker runs (restart sluiced to change it); "
                         "nothing was changed");
      }
      if (absl::Status st = schema.Validate(); !st.ok())
        return Invalid(std::string(st.message()) + "; nothing was changed");
    } else {
      std::vector<std::string> argv;
      {
        std::lock_guard<std::mutex> lock(mu_);
        argv = info_.argv;
      }
      if (argv.empty()) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                            "the broker's command line is unknown; use --set");
      BrokerConfig fresh;
      ConfigSchema schema("sluiced", "");
      fresh.Register(&schema);
      std::vector<const char*> args;
      for (const auto& a : argv) args.push_back(a.c_str());
      // The same parsing as at startup: the `bridge:` section goes to the bridge's parser.
      auto parsed = broker::ParseDaemonArgs(&schema, static_cast<int>(args.size()), args.data());
      if (!parsed.ok())
        return Invalid(std::string(parsed.status().message()) + "; nothing was changed");
      auto old_map = DumpMap(before), new_map = DumpMap(fresh);
      for (const auto& [key, value] : new_map) {
        if (RuntimeConfig::IsRuntimeKey(key) || old_map[key] == value) continue;
        restart_required.push_back(key);
      }
      if (parsed->bridge_yaml != info_.bridge_yaml) restart_required.push_back("bridge");
      RuntimeConfig::From(fresh).ApplyTo(&next);
    }
    auto old_map = DumpMap(before), new_map = DumpMap(next);
    for (const auto& [key, value] : new_map)
      if (RuntimeConfig::IsRuntimeKey(key) && old_map[key] != value) out->add_changed(key);
    for (const auto& key : restart_required) out->add_restart_required(key);
    broker_->ApplyRuntimeConfig(RuntimeConfig::From(next));
    SLOG(kInfo).Kv("changed", out->changed_size()).Kv("restart_required", restart_required.size())
        << "configuration reloaded";
    return grpc::Status::OK;
  }

  grpc::Status GetLogLevel(grpc::ServerContext*, const pb::GetLogLevelRequest*,
                           pb::LogLevel* out) override {
    out->set_level(LevelText(log::GetLevel()));
    return grpc::Status::OK;
  }

  grpc::Status SetLogLevel(grpc::ServerContext*, const pb::SetLogLevelRequest* req,
                           pb::LogLevel* out) override {
    auto level = log::ParseLevel(req->level());
    if (!level.ok())
      return Invalid("unknown log level '" + req->level() +
                     "': expected debug, info, warn, error or off");
    std::lock_guard<std::mutex> reload_lock(reload_mu_);
    RuntimeConfig runtime = broker_->CurrentRuntimeConfig();
    runtime.log_level = LevelText(*level);
    broker_->ApplyRuntimeConfig(runtime);
    SLOG(kInfo).Kv("level", runtime.log_level) << "log level set by administrator";
    out->set_level(runtime.log_level);
    return grpc::Status::OK;
  }

 private:
  // Startup configuration with the runtime settings as they are now.
  BrokerConfig Effective() const {
    BrokerConfig c = broker_->config();
    broker_->CurrentRuntimeConfig().ApplyTo(&c);
    c.log_level = LevelText(log::GetLevel());
    return c;
  }

  static void FillNoBridge(pb::BridgeStatus* out) {
    out->set_state("unavailable");
    out->set_note(
        "no Kafka bridge is configured in this broker (no `bridge:` section in its config "
        "file): nothing is forwarded to or from Kafka");
  }

  static void FillBridge(const bridge::BridgeStatusReport& report, pb::BridgeStatus* out) {
    int64_t now = SteadyNowMs();  // WorkerStatus::last_error_ms is steady-clock time too
    uint64_t lag = 0, errors = 0;
    bool retrying = false, stopped = !report.mqtt_to_kafka.empty();
    bool all_paused = true;
    std::vector<std::string> paused_rules;
    auto note_paused = [&](const std::string& rule, bool paused) {
      all_paused &= paused;
      if (paused && std::find(paused_rules.begin(), paused_rules.end(), rule) == paused_rules.end())
        paused_rules.push_back(rule);
    };
    for (const bridge::WorkerStatus& w : report.mqtt_to_kafka) {
      auto* o = out->add_workers();
      o->set_rule(w.rule);
      o->set_partition(w.partition.value());
      o->set_state(std::string(bridge::WorkerStateName(w.state)));
      o->set_checkpoint(w.checkpoint.value());
      o->set_acknowledged(w.acknowledged.value());
      o->set_high_watermark(w.high_watermark.value());
      o->set_lag(w.lag);
      o->set_inflight(w.inflight);
      o->set_produced(w.produced);
      o->set_delivered(w.delivered);
      o->set_delivery_failures(w.delivery_failures);
      o->set_retries(w.retries);
      o->set_resent_after_ack(w.resent_after_ack);
      o->set_skipped_unmappable(w.skipped_unmappable);
      o->set_lost_to_retention(w.lost_to_retention);
      o->set_checkpoints(w.checkpoints);
      o->set_last_error(w.last_error);
      o->set_last_error_age_s(w.last_error.empty() ? -1
                                                   : std::max<int64_t>(0, (now - w.last_error_ms) / 1000));
      lag += w.lag;
      errors += w.delivery_failures;
      retrying |= w.state == bridge::WorkerState::kRetrying;
      stopped &= w.state == bridge::WorkerState::kStopped;
      note_paused(w.rule, w.state == bridge::WorkerState::kPaused);
    }
    for (const bridge::ConsumerRuleStatus& c : report.kafka_to_mqtt) {
      auto* o = out->add_consumers();
      o->set_rule(c.rule);
      o->set_consumed(c.consumed);
      o->set_published(c.published);
      o->set_publish_failures(c.publish_failures);
      o->set_skipped_unmappable(c.skipped_unmappable);
      o->set_consumer_errors(c.consumer_errors);
      o->set_last_error(c.last_error);
      o->set_state(c.paused ? "paused" : "running");
      errors += c.publish_failures + c.consumer_errors;
      note_paused(c.rule, c.paused);
    }
    for (const std::string& rule : paused_rules) out->add_paused_rules(rule);
    const bool any = !report.mqtt_to_kafka.empty() || !report.kafka_to_mqtt.empty();
    const bool paused = any && all_paused;
    out->set_state(stopped ? "stopped" : paused ? "paused" : retrying ? "retrying" : "running");
    out->set_lag_messages(lag);
    out->set_errors(errors);
    std::string note;
    if (paused) {
      note = "paused by an administrator: nothing is forwarded until `sluicectl bridge resume`";
    } else if (!paused_rules.empty() && !stopped) {
      note = "paused rules:";
      for (const std::string& rule : paused_rules) note += " " + rule;
    }
    if (retrying && !paused) {
      if (!note.empty()) note += "; ";
      note += "deliveries to Kafka fail and are retried: see the workers' last_error";
    }
    out->set_note(note);
  }

  grpc::Status BridgeControl(const std::string& rule, bool pause, pb::BridgeStatus* out) {
    const char* action = pause ? "pause" : "resume";
    if (!info_.bridge_status || !info_.bridge_pause)
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          std::string("no Kafka bridge is configured in this broker; nothing to ") +
                              action);
    std::lock_guard<std::mutex> lock(bridge_mu_);  // one pause/resume at a time
    absl::Status st = info_.bridge_pause(rule, pause);
    if (!st.ok()) return ToGrpc(st);
    FillBridge(info_.bridge_status(), out);
    return grpc::Status::OK;
  }

  Broker* broker_;
  std::mutex mu_;         // guards info_
  std::mutex reload_mu_;  // serializes configuration changes
  std::mutex bridge_mu_;  // serializes bridge pause/resume
  NodeInfo info_;
};

AdminServer::AdminServer(broker::Broker* broker, NodeInfo info)
    : service_(std::make_unique<Service>(broker, std::move(info))) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start(const std::string& address) {
  std::string host;
  uint16_t port;
  if (!broker::SplitHostPort(address, &host, &port))
    return absl::InvalidArgumentError("admin_listen: expected HOST:PORT, got '" + address + "'");
  int selected = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || selected == 0) {
    server_.reset();
    return absl::UnavailableError("cannot listen on " + address + " for the admin API");
  }
  bound_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(selected);
  SLOG(kInfo).Kv("listen", bound_) << "admin API ready";
  return absl::OkStatus();
}

void AdminServer::AddListener(std::string name, std::string address) {
  service_->AddListener(std::move(name), std::move(address));
}

void AdminServer::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

}  // namespace sluice::admin
