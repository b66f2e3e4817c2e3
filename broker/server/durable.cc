#include "broker/server/durable.h"

#include <chrono>
#include <filesystem>

#include "base/log.h"
#include "mqtt/codec/codec.h"

namespace sluice::broker {

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr uint8_t kSessionRecordVersion = 1;

void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void PutU64(std::string& out, uint64_t v) { storage::PutFixed64(out, v); }
void PutStr(std::string& out, std::string_view s) {
  storage::PutVarint32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked reader over a session record.
class In {
 public:
  explicit In(std::string_view data) : in_(data) {}
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U64(uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = storage::GetFixed64(in_);
    in_.remove_prefix(8);
    return true;
  }
  bool Str(std::string* s) {
    std::string_view v;
    if (!storage::GetLengthPrefixed(in_, v)) return false;
    s->assign(v);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string EncodeSessionRecord(const SessionRecord& r) {
  std::string out;
  PutU8(out, kSessionRecordVersion);
  PutU8(out, static_cast<uint8_t>(r.version));
  PutU64(out, r.expiry_s);
  PutU64(out, static_cast<uint64_t>(r.disconnected_wall_ms));
  PutU64(out, r.subscriptions.size());
  for (const auto& [filter, o] : r.subscriptions) {
    PutStr(out, filter);
    PutU8(out, o.qos);
    PutU8(out, (o.no_local ? 1 : 0) | (o.retain_as_published ? 2 : 0));
    PutU8(out, o.retain_handling);
    PutU64(out, o.subscription_id);
  }
  PutU64(out, r.base.size());
  for (int64_t b : r.base) PutU64(out, static_cast<uint64_t>(b));
  PutU64(out, r.inflight.size());
  for (const auto& e : r.inflight) {
    PutU64(out, e.packet_id);
    PutU8(out, (e.awaiting_pubcomp ? 1 : 0) | (e.retain ? 2 : 0));
    PutU8(out, e.qos);
    PutU64(out, e.partition);
    PutU64(out, static_cast<uint64_t>(e.offset));
  }
  return out;
}

absl::StatusOr<SessionRecord> DecodeSessionRecord(std::string_view data) {
  auto bad = [] { return absl::DataLossError("malformed session record"); };
  In in(data);
  SessionRecord r;
  uint8_t version, v, flags;
  uint64_t n, x;
  if (!in.U8(&version) || version != kSessionRecordVersion) return bad();
  if (!in.U8(&v) || (v != 3 && v != 4 && v != 5)) return bad();
  r.version = static_cast<mqtt::Version>(v);
  if (!in.U64(&x)) return bad();
  r.expiry_s = static_cast<uint32_t>(x);
  if (!in.U64(&x)) return bad();
  r.disconnected_wall_ms = static_cast<int64_t>(x);
  if (!in.U64(&n) || n > 1'000'000) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    std::string filter;
    topic::SubscriptionOptions o;
    if (!in.Str(&filter) || !in.U8(&o.qos) || !in.U8(&flags) || !in.U8(&o.retain_handling) ||
        !in.U64(&x))
      return bad();
    o.no_local = flags & 1;
    o.retain_as_published = flags & 2;
    o.subscription_id = static_cast<uint32_t>(x);
    r.subscriptions.emplace_back(std::move(filter), o);
  }
  if (!in.U64(&n) || n > 1'000'000) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    if (!in.U64(&x)) return bad();
    r.base.push_back(static_cast<int64_t>(x));
  }
  if (!in.U64(&n) || n > 65535) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    SessionRecord::Inflight e;
    uint64_t id, partition, offset;
    if (!in.U64(&id) || !in.U8(&flags) || !in.U8(&e.qos) || !in.U64(&partition) ||
        !in.U64(&offset))
      return bad();
    e.packet_id = static_cast<uint16_t>(id);
    e.awaiting_pubcomp = flags & 1;
    e.retain = flags & 2;
    e.partition = static_cast<uint32_t>(partition);
    e.offset = static_cast<int64_t>(offset);
    r.inflight.push_back(e);
  }
  if (!in.done()) return bad();
  return r;
}

storage::Record Durable::ToRecord(const Message& m) {
  storage::Record r;
  r.topic = m.topic;
  r.qos = m.qos;
  r.retain = m.retain;
  r.payload = m.payload;
  r.publisher = m.publisher;
  r.properties = mqtt::EncodeStoredProperties(m.properties);
  return r;
}

absl::StatusOr<std::shared_ptr<Message>> Durable::ToMessage(const storage::Record& r,
                                                            uint32_t partition, int64_t offset,
                                                            int64_t now_ms, int64_t wall_now_ms) {
  auto m = std::make_shared<Message>();
  m->topic = r.topic;
  m->payload = r.payload;
  m->qos = r.qos;
  m->retain = r.retain;
  m->publisher = r.publisher;
  m->partition = partition;
  m->offset = offset;
  m->received_ms = now_ms - std::max<int64_t>(0, wall_now_ms - r.timestamp_ms);
  mqtt::CodecError error;
  if (!mqtt::DecodeStoredProperties(r.properties, &m->properties, &error))
    return absl::DataLossError("log record with malformed MQTT properties: " + error.message);
  return m;
}

absl::StatusOr<std::unique_ptr<Durable>> Durable::Open(const BrokerConfig& config,
                                                       ClusterOptions cluster) {
  storage::PartitionedLogOptions o;
  o.dir = (std::filesystem::path(config.data_dir) / "log").string();
  o.partitions = static_cast<uint32_t>(config.log_partitions);
  o.partition_key_levels = static_cast<uint32_t>(config.log_partition_key_levels);
  o.sync = config.log_fsync != "none";
  o.sync_interval_ms = config.log_fsync == "interval" ? config.log_fsync_interval_ms : 0;
  o.retention.retention_ms = config.log_retention_ms;
  o.retention.retention_bytes = static_cast<uint64_t>(config.log_retention_bytes);
  o.retention.hard_retention_ms = config.log_hard_retention_ms;
  o.retention.hard_retention_bytes = static_cast<uint64_t>(config.log_hard_retention_bytes);
  o.record_bytes_max = static_cast<uint64_t>(config.max_packet_size) + 64 * 1024;
  o.memory_budget_bytes = static_cast<uint64_t>(config.log_memory_budget_mb) << 20;
  std::string scope;
  if (cluster.transport != nullptr) {
    o.node_id = NodeId(static_cast<uint64_t>(config.cluster.node_id));
    o.transport = cluster.transport;
    o.members = std::move(cluster.members);
    o.forward_proposals = true;
    o.applied_listener = std::move(cluster.applied_listener);
    o.event_listener = std::move(cluster.event_listener);
    scope = "n" + std::to_string(config.cluster.node_id) + "/";
  }
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return absl::InvalidArgumentError("cannot create " + o.dir + ": " + ec.message());
  auto log = storage::PartitionedLog::Open(std::move(o));
  if (!log.ok()) {
    return absl::Status(log.status().code(),
                        "commit log in " + config.data_dir + "/log: " +
                            std::string(log.status().message()));
  }
  return std::unique_ptr<Durable>(
      new Durable(std::move(*log), config.log_retention_check_s, std::move(scope)));
}

Durable::Durable(std::unique_ptr<storage::PartitionedLog> log, int64_t check_s,
                 std::string scope)
    : log_(std::move(log)), retention_check_s_(check_s), scope_(std::move(scope)) {
  retention_thread_ = std::thread([this] { RetentionLoop(); });
}

Durable::~Durable() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
  log_.reset();
}

void Durable::RetentionLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(retention_check_s_), [this] { return stopping_; })) {
    lock.unlock();
    absl::StatusOr<int> changed = log_->EnforceRetention();
    if (!changed.ok()) {
      SLOG(kWarn).Kv("error", changed.status().message()) << "log retention failed";
    } else if (*changed > 0) {
      SLOG(kDebug).Kv("partitions", *changed) << "log retention applied";
    }
    lock.lock();
  }
}

std::vector<int64_t> Durable::HighWatermarks() const {
  std::vector<int64_t> out(log_->partitions(), 0);
  for (uint32_t p = 0; p < out.size(); ++p) {
    auto info = log_->Info(PartitionId(p));
    if (info.ok()) out[p] = static_cast<int64_t>(info->high_watermark.value());
  }
  return out;
}

storage::PartitionedLog::DoneCallback Durable::Background(const char* what, std::string client_id) {
  return [this, what, client_id = std::move(client_id)](absl::Status st) {
    if (st.ok() || st.code() == absl::StatusCode::kCancelled) return;
    background_failures_.fetch_add(1, std::memory_order_relaxed);
    SLOG(kWarn).Kv("client_id", client_id).Kv("what", what).Kv("error", st.message())
        << "commit log write failed";
  };
}

}  // namespace sluice::broker
