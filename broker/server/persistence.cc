#include "broker/server/persistence.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/status.h"
#include "broker/codec/codec.h"
#include "broker/server/broker.h"
#include "broker/server/shard.h"
#include "broker/topic/topic.h"

namespace sluice::broker {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'T'};
constexpr uint32_t kFormatVersion = 1;
enum Record : uint8_t { kRetained = 1, kSession = 2, kEnd = 0xFF };

uint64_t Fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) { return Raw(v, 1); }
  bool U16(uint16_t* v) { return Raw(v, 2); }
  bool U32(uint32_t* v) { return Raw(v, 4); }
  bool U64(uint64_t* v) { return Raw(v, 8); }
  bool Str(std::string* s) {
    uint32_t n;
    if (!U32(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  bool Raw(void* p, size_t n) {
    if (in_.size() - pos_ < n) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

// A message travels as an MQTT 5 PUBLISH frame (topic, payload, QoS, retain, properties),
// plus what PUBLISH does not carry.
void PutMessage(Writer& w, const Message& m, int64_t now_ms) {
  mqtt::Publish p;
  p.topic = m.topic;
  p.payload = m.payload;
  p.qos = m.qos;
  p.retain = m.retain;
  p.packet_id = m.qos > 0 ? 1 : 0;
  p.properties = m.properties;
  std::string frame;
  mqtt::Encode(p, mqtt::Version::k5, &frame);
  w.Str(frame);
  w.Str(m.publisher);
  w.U64(static_cast<uint64_t>(std::max<int64_t>(0, now_ms - m.received_ms)));
}

bool GetMessage(Reader& r, int64_t now_ms, MessagePtr* out) {
  std::string frame, publisher;
  uint64_t age_ms;
  if (!r.Str(&frame) || !r.Str(&publisher) || !r.U64(&age_ms)) return false;
  mqtt::Packet packet;
  mqtt::CodecError error;
  if (!mqtt::Decode(frame, mqtt::Version::k5, &packet, &error)) return false;
  auto* p = std::get_if<mqtt::Publish>(&packet);
  if (!p) return false;
  auto m = std::make_shared<Message>();
  m->topic = std::move(p->topic);
  m->payload = std::move(p->payload);
  m->qos = p->qos;
  m->retain = p->retain;
  m->properties = std::move(p->properties);
  m->publisher = std::move(publisher);
  m->received_ms = now_ms - static_cast<int64_t>(age_ms);
  *out = std::move(m);
  return true;
}

void PutDelivery(Writer& w, const Delivery& d, int64_t now_ms) {
  w.U8(d.qos);
  w.U8(d.retain);
  w.U32(static_cast<uint32_t>(d.subscription_ids.size()));
  for (uint32_t id : d.subscription_ids) w.U32(id);
  w.U8(d.message != nullptr);
  if (d.message) PutMessage(w, *d.message, now_ms);
}

bool GetDelivery(Reader& r, int64_t now_ms, Delivery* d) {
  uint8_t retain, has_message;
  uint32_t n;
  if (!r.U8(&d->qos) || !r.U8(&retain) || !r.U32(&n) || n > 1'000'000) return false;
  d->retain = retain != 0;
  d->subscription_ids.resize(n);
  for (auto& id : d->subscription_ids)
    if (!r.U32(&id)) return false;
  if (!r.U8(&has_message)) return false;
  return !has_message || GetMessage(r, now_ms, &d->message);
}

void PutSession(Writer& w, const SessionHost& host, int64_t now_ms, StateCounts* counts) {
  const Session& s = host.session;
  w.Str(s.client_id());
  w.U8(static_cast<uint8_t>(host.version));
  w.U32(host.expiry_s);
  auto& subs = const_cast<Session&>(s).subscriptions();
  w.U32(static_cast<uint32_t>(subs.size()));
  for (const auto& [filter, o] : subs) {
    w.Str(filter);
    w.U8(o.qos);
    w.U8(o.no_local);
    w.U8(o.retain_as_published);
    w.U8(o.retain_handling);
    w.U32(o.subscription_id);
  }
  w.U32(static_cast<uint32_t>(s.inflight_entries().size()));
  for (const auto& e : s.inflight_entries()) {
    w.U16(e.packet_id);
    w.U8(e.awaiting_pubcomp);
    PutDelivery(w, e.delivery, now_ms);
  }
  w.U32(static_cast<uint32_t>(s.queued_entries().size()));
  for (const auto& d : s.queued_entries()) PutDelivery(w, d, now_ms);
  w.U32(static_cast<uint32_t>(s.incoming_qos2_ids().size()));
  for (uint16_t id : s.incoming_qos2_ids()) w.U16(id);
  counts->messages += s.inflight_entries().size() + s.queued_entries().size();
}

absl::Status Damaged(const std::string& path, const char* what) {
  return absl::DataLossError("state file " + path + " is damaged (" + what +
                             "); move it away to start without the saved state");
}

bool GetSession(Reader& r, Broker& broker, int64_t now_ms, StateCounts* counts) {
  std::string client_id;
  uint8_t version;
  uint32_t expiry_s, n;
  if (!r.Str(&client_id) || !r.U8(&version) || !r.U32(&expiry_s) || !r.U32(&n)) return false;
  uint32_t home = broker.HomeShard(client_id);
  SessionHost* host = broker.shard(home).RestoreSession(client_id, static_cast<mqtt::Version>(version), expiry_s);
  for (uint32_t i = 0; i < n; ++i) {
    std::string filter;
    topic::SubscriptionOptions o;
    uint8_t no_local, rap;
    if (!r.Str(&filter) || !r.U8(&o.qos) || !r.U8(&no_local) || !r.U8(&rap) ||
        !r.U8(&o.retain_handling) || !r.U32(&o.subscription_id))
      return false;
    o.no_local = no_local;
    o.retain_as_published = rap;
    topic::ParsedFilter parsed;
    if (!topic::ParseFilter(filter, &parsed)) return false;
    host->session.subscriptions()[filter] = o;
    for (uint32_t shard = 0; shard < broker.shard_count(); ++shard)
      broker.shard(shard).trie().Add(parsed.filter, parsed.group, client_id, home, o);
  }
  if (!r.U32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t id;
    uint8_t awaiting;
    Delivery d;
    if (!r.U16(&id) || !r.U8(&awaiting) || !GetDelivery(r, now_ms, &d)) return false;
    if (!host->session.RestoreInflight(id, awaiting != 0, std::move(d))) return false;
    ++counts->messages;
  }
  if (!r.U32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    Delivery d;
    if (!GetDelivery(r, now_ms, &d) || !d.message) return false;
    host->session.RestoreQueued(std::move(d));
    ++counts->messages;
  }
  if (!r.U32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t id;
    if (!r.U16(&id)) return false;
    host->session.BeginIncomingQos2(id);
  }
  ++counts->sessions;
  return true;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError("cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return absl::UnavailableError("cannot write " + tmp + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return absl::UnavailableError("cannot sync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return absl::UnavailableError("cannot rename " + tmp + ": " + std::strerror(errno));
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SaveState(Broker& broker, const std::string& path, StateCounts* counts) {
  *counts = {};
  const int64_t now_ms = broker.shard(0).NowMs();
  Writer w;
  w.out().append(kMagic, sizeof kMagic);
  w.U32(kFormatVersion);
  for (const MessagePtr& m : broker.AllRetained()) {
    // $SYS topics describe the running process and are republished by the next one.
    if (m->topic.rfind("$SYS/", 0) == 0) continue;
    Writer body;
    PutMessage(body, *m, now_ms);
    w.U8(kRetained);
    w.Str(body.out());
    ++counts->retained;
  }
  for (uint32_t i = 0; i < broker.shard_count(); ++i) {
    for (const SessionHost* host : broker.shard(i).Sessions()) {
      if (host->expiry_s == 0) continue;
      Writer body;
      PutSession(body, *host, now_ms, counts);
      w.U8(kSession);
      w.Str(body.out());
      ++counts->sessions;
    }
  }
  w.U8(kEnd);
  w.U64(Fnv1a(w.out()));
  return WriteFileAtomically(path, w.out());
}

absl::Status LoadState(Broker& broker, const std::string& path, StateCounts* counts) {
  *counts = {};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::UnavailableError("cannot open " + path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (n < 0) return absl::UnavailableError("cannot read " + path + ": " + std::strerror(errno));
  if (data.size() < sizeof kMagic + 4 + 1 + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return Damaged(path, "not a Sluice state file");
  std::string_view body(data.data(), data.size() - 8);
  uint64_t sum;
  std::memcpy(&sum, data.data() + data.size() - 8, 8);
  if (sum != Fnv1a(body)) return Damaged(path, "checksum mismatch");
  Reader r(body.substr(sizeof kMagic));
  uint32_t version;
  if (!r.U32(&version) || version != kFormatVersion) return Damaged(path, "unknown format version");
  const int64_t now_ms = broker.shard(0).NowMs();
  while (true) {
    uint8_t kind;
    if (!r.U8(&kind)) return Damaged(path, "truncated");
    if (kind == kEnd) break;
    std::string record;
    if (!r.Str(&record)) return Damaged(path, "truncated record");
    Reader rr(record);
    if (kind == kRetained) {
      MessagePtr m;
      if (!GetMessage(rr, now_ms, &m)) return Damaged(path, "bad retained message");
      broker.SetRetained(m);
      ++counts->retained;
    } else if (kind == kSession) {
      if (!GetSession(rr, broker, now_ms, counts)) return Damaged(path, "bad session");
    } else {
      return Damaged(path, "unknown record");
    }
  }
  if (!r.done()) return Damaged(path, "trailing bytes");
  return absl::OkStatus();
}

}  // namespace sluice::broker
