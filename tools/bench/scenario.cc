#include "tools/bench/scenario.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "mqtt/codec/codec.h"
#include "tools/bench/bench.h"
#include "tools/bench/client.h"

namespace sluice::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

void ScenarioOptions::Register(ConfigSchema* s) {
  s->AddEnum("scenario", &scenario,
             {"p2p", "fan-in", "shared", "fan-out", "conn", "devices", "slow-subscriber"},
             "p2p | fan-in | shared | fan-out | conn (connection storm, then idle) | devices "
             "(--clients each at --rate-per-client to its own topic) | slow-subscriber "
             "(subscribers read at --subscriber-read-bytes-per-s).");
  s->AddString("broker", &broker, "Broker address HOST:PORT (IPv4).");
  s->AddString("subscriber_broker", &subscriber_broker,
               "Subscribers connect to this HOST:PORT instead (another node of a cluster).");
  s->AddInt("clients", &clients, 1, 1'000'000, "p2p: pairs; conn: connections; devices: publishers.");
  s->AddInt("publishers", &publishers, 1, 1'000'000,
            "fan-in, shared, fan-out, slow-subscriber: publishers.");
  s->AddInt("subscribers", &subscribers, 0, 1'000'000,
            "fan-in, fan-out, devices, slow-subscriber: subscribers (0: publishers only, QoS "
            ">= 1, bounded by --inflight); shared: members of the group (>= 1).");
  s->AddInt("topics", &topics, 1, 1'000'000, "Topics publishers spread over (index % topics).");
  s->AddInt("qos", &qos, 0, 2, "QoS of publishes and subscriptions.");
  s->AddInt("payload_bytes", &payload_bytes, 16, 1 << 20, "Payload size (>= 16).");
  s->AddInt("rate", &rate, 0, 100'000'000, "Total publishes/s; 0 = maximum rate.");
  s->AddInt("window", &window, 1, 1'000'000,
            "Maximum rate: undelivered messages each publisher may have.");
  s->AddInt("inflight", &inflight, 1, 65535, "QoS 1/2: unacknowledged publishes per publisher.");
  s->AddInt("duration_s", &duration_s, 1, 3600, "Publishing time, warmup included.");
  s->AddInt("messages", &messages, 0, 1'000'000'000, "Per publisher; 0 = until duration.");
  s->AddInt("warmup_ms", &warmup_ms, 0, 600'000, "Excluded from throughput and latency.");
  s->AddInt("drain_ms", &drain_ms, 0, 600'000, "Wait for stragglers after publishing stops.");
  s->AddEnum("mqtt_version", &mqtt_version, {"3.1.1", "5"}, "MQTT version.");
  s->AddInt("keep_alive_s", &keep_alive_s, 0, 65535, "Keep alive of every client.");
  s->AddInt("connect_rate", &connect_rate, 0, 10'000'000, "Connects/s; 0 = unpaced.");
  s->AddInt("connect_concurrency", &connect_concurrency, 1, 1'000'000,
            "Connects awaiting CONNACK at most.");
  s->AddInt("connect_timeout_ms", &connect_timeout_ms, 100, 600'000, "Per connection.");
  s->AddInt("setup_timeout_s", &setup_timeout_s, 1, 3600, "All connections up within this.");
  s->AddInt("idle_s", &idle_s, 0, 3600, "conn: how long connections are held idle.");
  s->AddInt("source_addresses", &source_addresses, 1, 250, "Source IPs 127.0.0.1..N.");
  s->AddString("shared_group", &shared_group, "Group name of the shared scenario.");
  s->AddString("topic_prefix", &topic_prefix, "First topic level.");
  s->AddBool("unbatched", &unbatched,
             "Every client writes exactly one MQTT packet per send() (no write batching; "
             "TCP_NODELAY as always). With --window 1 --inflight 1: a libmosquitto-like device.");
  s->AddString("rate_per_client", &rate_per_client,
               "devices: publishes/s of each client, a decimal > 0 (e.g. 0.1 = one per 10 s).");
  s->AddInt("subscriber_read_bytes_per_s", &subscriber_read_bytes_per_s, 0, 1'000'000'000'000,
            "> 0: subscribers read their sockets at most this fast while publishing runs "
            "(the drain reads at full speed).");
  s->AddInt("subscriber_rcvbuf_bytes", &subscriber_rcvbuf_bytes, 0, 1 << 30,
            "> 0: SO_RCVBUF of subscribers (fixed, no autotuning), so a slow reader's backlog "
            "stays in the broker rather than in the kernel.");
  s->AddValidator([this]() -> absl::Status {
    char* end = nullptr;
    const double v = std::strtod(rate_per_client.c_str(), &end);
    if (rate_per_client.empty() || end == nullptr || *end != '\0' || !std::isfinite(v) ||
        v <= 0 || v > 1e6)
      return absl::InvalidArgumentError("rate_per_client: expected a number in (0, 1e6], got '" +
                                        rate_per_client + "'");
    rate_per_client_per_s = v;
    return absl::OkStatus();
  });
}

namespace {

bool ParseBroker(const std::string& text, tcp::endpoint* out) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(text.substr(0, colon), ec);
  if (ec) return false;
  int port = std::atoi(text.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return false;
  *out = tcp::endpoint(address, static_cast<uint16_t>(port));
  return true;
}

bool Usage(const char* message) {
  std::fprintf(stderr, "loadgen: %s\n", message);
  return false;
}

}  // namespace

std::string Bench::PublisherTopic(uint32_t i) const {
  const std::string& p = o_.topic_prefix;
  if (o_.scenario == "p2p") return p + "/p2p/" + std::to_string(i);
  if (o_.scenario == "fan-out") return p + "/out/" + std::to_string(i % o_.topics);
  if (devices_) return p + "/dev/" + std::to_string(i) + "/telemetry";
  return p + "/in/" + std::to_string(i % o_.topics);
}

std::string Bench::SubscriberFilter(uint32_t i) const {
  const std::string& p = o_.topic_prefix;
  if (o_.scenario == "p2p") return PublisherTopic(i);
  if (o_.scenario == "fan-out") return p + "/out/" + std::to_string(i % o_.topics);
  if (devices_) return p + "/dev/+/telemetry";
  if (shared_) return "$share/" + o_.shared_group + "/" + p + "/in/+";
  return p + "/in/+";  // fan-in, slow-subscriber
}

bool Bench::SinkExpects(uint32_t sink, uint32_t publisher) const {
  if (o_.scenario == "p2p") return sink == publisher;
  if (o_.scenario == "fan-out") return sink % o_.topics == publisher % o_.topics;
  return true;  // fan-in, shared, devices, slow-subscriber: a wildcard over every topic
}

bool Bench::EverySinkExpectsAll() const {
  return o_.scenario != "p2p" && o_.scenario != "fan-out";
}

// Combinations of options that cannot run; false after a message (exit code 2).
bool Bench::CheckOptions() const {
  const bool subscribers_optional = o_.scenario == "fan-in" || o_.scenario == "fan-out" ||
                                    devices_ || slow_;
  if (o_.scenario != "conn" && o_.scenario != "p2p" && o_.subscribers == 0 &&
      (!subscribers_optional || o_.qos == 0))
    return Usage("--subscribers 0 needs fan-in, fan-out or devices with --qos 1 or 2 "
                 "(publishers are then bounded by --inflight)");
  if (devices_ && o_.rate > 0)
    return Usage("devices is paced per client: use --rate-per-client, not --rate");
  if (slow_ && o_.qos == 0 && o_.rate == 0)
    return Usage("slow-subscriber at maximum rate needs --qos 1 or 2 (publishers bounded by "
                 "--inflight) or a fixed --rate");
  return true;
}

void Bench::AddClient(Role role, uint32_t i, const char* tag, ClientOptions co) {
  std::string id = std::string("bench-") + tag + std::to_string(i) + "-" + run_id_;
  clients_.push_back(std::make_unique<Client>(io_, this, static_cast<uint32_t>(clients_.size()),
                                              std::move(id), co));
  roles_.push_back(role);
  role_index_.push_back(i);
}

void Bench::AddPublisher(uint32_t i, const ClientOptions& base, uint32_t n_sinks) {
  ClientOptions co = base;
  co.read_buffer_bytes = 4 * 1024;
  AddClient(Role::kPublisher, i, "p", co);
  Publisher p;
  p.client = clients_.back().get();
  p.id = i;
  for (uint32_t k = 0; k < n_sinks; ++k) p.fanout += SinkExpects(k, i) ? 1 : 0;
  mqtt::Publish publish;
  publish.topic = PublisherTopic(i);
  publish.qos = static_cast<uint8_t>(o_.qos);
  publish.packet_id = o_.qos > 0 ? 1 : 0;
  publish.payload.assign(static_cast<size_t>(o_.payload_bytes), 'x');
  mqtt::Encode(publish, version_, &p.frame);
  p.payload_at = p.frame.size() - publish.payload.size();
  // Fixed header, topic length and topic precede the packet id.
  p.packet_id_at = p.frame.size() - publish.payload.size() - 2 -
                   (version_ == mqtt::Version::k5 ? 1 : 0);
  // Slots: packet ids 1..2*inflight, so an id is never reused while unacknowledged.
  if (o_.qos > 0) p.slot_sent_ns.assign(static_cast<size_t>(o_.inflight) * 2, 0);
  pubs_.push_back(std::move(p));
}

bool Bench::Build() {
  if (!ParseBroker(o_.broker, &broker_)) {
    std::fprintf(stderr, "loadgen: --broker: expected IPv4 HOST:PORT, got '%s'\n",
                 o_.broker.c_str());
    return false;
  }
  subscriber_broker_ = broker_;
  if (!o_.subscriber_broker.empty() && !ParseBroker(o_.subscriber_broker, &subscriber_broker_)) {
    std::fprintf(stderr, "loadgen: --subscriber-broker: expected IPv4 HOST:PORT, got '%s'\n",
                 o_.subscriber_broker.c_str());
    return false;
  }
  version_ = o_.mqtt_version == "5" ? mqtt::Version::k5 : mqtt::Version::k311;
  shared_ = o_.scenario == "shared";
  devices_ = o_.scenario == "devices";
  slow_ = o_.scenario == "slow-subscriber";
  if (!CheckOptions()) return false;
  run_id_ = std::to_string(NowNs() % 1'000'000'000);
  uint32_t n_pubs = 0, n_subs = 0, n_idle = 0;
  if (o_.scenario == "p2p") {
    n_pubs = n_subs = static_cast<uint32_t>(o_.clients);
  } else if (o_.scenario == "conn") {
    n_idle = static_cast<uint32_t>(o_.clients);
  } else {
    n_pubs = static_cast<uint32_t>(devices_ ? o_.clients : o_.publishers);
    n_subs = static_cast<uint32_t>(o_.subscribers);
  }
  ClientOptions base;
  base.version = version_;
  base.keep_alive_s = static_cast<uint16_t>(o_.keep_alive_s);
  base.connect_timeout_ms = o_.connect_timeout_ms;
  base.one_packet_per_send = o_.unbatched;
  const uint32_t n_sinks = shared_ ? 1 : n_subs;
  sinks_.resize(n_sinks);
  for (uint32_t i = 0; i < n_subs; ++i) {
    ClientOptions co = base;
    co.read_buffer_bytes = 64 * 1024;
    co.receive_maximum = static_cast<uint16_t>(o_.inflight);
    co.read_bytes_per_s = o_.subscriber_read_bytes_per_s;
    co.rcvbuf_bytes = o_.subscriber_rcvbuf_bytes;
    AddClient(Role::kSubscriber, i, "s", co);
    Subscriber s;
    s.client = clients_.back().get();
    s.sink = shared_ ? 0 : i;
    s.filter = SubscriberFilter(i);
    subs_.push_back(std::move(s));
  }
  for (uint32_t i = 0; i < n_pubs; ++i) AddPublisher(i, base, n_sinks);
  for (uint32_t i = 0; i < n_idle; ++i) {
    ClientOptions co = base;
    co.read_buffer_bytes = 512;
    AddClient(Role::kIdle, i, "c", co);
  }
  if (devices_) {
    // Late sends (the generator fell >100 ms behind) are skipped and counted, as in --rate.
    device_pacer_.emplace(n_pubs, o_.rate_per_client_per_s, 100'000'000);
  }
  return true;
}

void Bench::Announce(const char* name) {
  std::printf("phase %s\n", name);
  std::fflush(stdout);
}

int Bench::Run() {
  if (!Build()) return 2;
  deadline_.expires_after(std::chrono::seconds(o_.setup_timeout_s));
  deadline_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || phase_ == Phase::kRun || phase_ == Phase::kDrain || phase_ == Phase::kIdle ||
        phase_ == Phase::kDone)
      return;
    Finish(false, "setup timed out: " + std::to_string(connect_ok_) + " connected, " +
                      std::to_string(connect_failed_) + " failed");
  });
  std::vector<uint32_t> first;
  for (uint32_t i = 0; i < clients_.size(); ++i) {
    if (roles_[i] == Role::kSubscriber || roles_[i] == Role::kIdle) first.push_back(i);
  }
  phase_ = o_.scenario == "conn" ? Phase::kConnectIdle : Phase::kConnectSubs;
  StartConnecting(std::move(first));
  io_.run();
  return exit_code_;
}

void Bench::StartConnecting(std::vector<uint32_t> indexes) {
  to_connect_ = std::move(indexes);
  connect_next_ = connect_pending_ = connect_done_ = 0;
  connect_phase_ns_ = NowNs();
  if (to_connect_.empty()) {
    ConnectDone(nullptr);
    return;
  }
  ConnectTick();
}

void Bench::ConnectTick() {
  const int64_t now = NowNs();
  size_t allowed = to_connect_.size();
  if (o_.connect_rate > 0) {
    allowed = std::min<size_t>(
        allowed, 1 + static_cast<size_t>((now - connect_phase_ns_) / 1e9 * o_.connect_rate));
  }
  while (connect_next_ < allowed &&
         connect_pending_ < static_cast<size_t>(o_.connect_concurrency)) {
    uint32_t i = to_connect_[connect_next_++];
    connect_pending_++;
    uint32_t n = static_cast<uint32_t>(1 + i % o_.source_addresses);
    asio::ip::address_v4 source((127u << 24) | n);
    if (first_connect_start_ns_ == 0) first_connect_start_ns_ = now;
    clients_[i]->Start(roles_[i] == Role::kSubscriber ? subscriber_broker_ : broker_, source);
  }
  if (connect_next_ < to_connect_.size() && o_.connect_rate > 0) {
    timer_.expires_after(std::chrono::milliseconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ConnectTick();
    });
  }
}

void Bench::OnConnected(Client* c) {
  connect_ok_++;
  last_connack_ns_ = c->connack_ns();
  connect_latency_.Record(c->connack_ns() - c->start_ns());
  if (roles_[c->index()] == Role::kSubscriber) {
    Subscriber& s = subs_[role_index_[c->index()]];
    c->Subscribe(s.filter, static_cast<uint8_t>(o_.qos));
    return;  // done once SUBACK arrives
  }
  ConnectDone(c);
}

void Bench::OnSubscribed(Client* c, bool ok) {
  Subscriber& s = subs_[role_index_[c->index()]];
  s.subscribed = ok;
  if (!ok) {
    c->Close();
    OnFailed(c, "SUBACK refused " + s.filter);
    return;
  }
  ConnectDone(c);
}

void Bench::OnFailed(Client* c, const std::string& why) {
  if (first_error_.empty()) first_error_ = why;
  const bool setup = phase_ == Phase::kConnectSubs || phase_ == Phase::kConnectPubs ||
                     phase_ == Phase::kConnectIdle;
  const bool before_ready =
      !c->connected() || (roles_[c->index()] == Role::kSubscriber &&
                          !subs_[role_index_[c->index()]].subscribed);
  if (roles_[c->index()] == Role::kSubscriber && !shared_)
    sinks_[subs_[role_index_[c->index()]].sink].alive = false;
  if (setup && before_ready) {
    connect_failed_++;
    ConnectDone(c);
  } else {
    disconnects_++;
  }
}

void Bench::ConnectDone(Client* c) {
  if (c) {
    connect_pending_--;
    connect_done_++;
    ConnectTick();
  }
  if (connect_done_ < to_connect_.size()) return;
  if (phase_ == Phase::kConnectSubs) {
    phase_ = Phase::kConnectPubs;
    std::vector<uint32_t> pubs;
    for (uint32_t i = 0; i < clients_.size(); ++i)
      if (roles_[i] == Role::kPublisher) pubs.push_back(i);
    // Let SUBSCRIBE propagate to every shard before anyone publishes.
    timer_.expires_after(std::chrono::milliseconds(200));
    timer_.async_wait([this, pubs = std::move(pubs)](const boost::system::error_code& ec) mutable {
      if (!ec) StartConnecting(std::move(pubs));
    });
  } else if (phase_ == Phase::kConnectPubs) {
    if (connect_failed_ > 0) return Finish(false, "setup failed: " + first_error_);
    StartRun();
  } else if (phase_ == Phase::kConnectIdle) {
    phase_ = Phase::kIdle;
    Announce("connected");
    deadline_.cancel();
    timer_.expires_after(std::chrono::seconds(o_.idle_s));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      Announce("idle");
      Finish(true);
    });
  }
}

int RunScenario(const ScenarioOptions& options) {
  // Thousands of sockets: take every file descriptor the hard limit allows.
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  Bench bench(options);
  return bench.Run();
}

}  // namespace sluice::bench
