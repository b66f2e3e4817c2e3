#include "tools/bench/scenario.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <vector>

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mqtt/codec/codec.h"
#include "tools/bench/client.h"
#include "tools/bench/stats.h"

namespace sluice::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

void ScenarioOptions::Register(ConfigSchema* s) {
  s->AddEnum("scenario", &scenario, {"p2p", "fan-in", "shared", "fan-out", "conn"},
             "p2p | fan-in | shared | fan-out | conn (connection storm, then idle).");
  s->AddString("broker", &broker, "Broker address HOST:PORT (IPv4).");
  s->AddInt("clients", &clients, 1, 1'000'000, "p2p: pairs; conn: connections.");
  s->AddInt("publishers", &publishers, 1, 1'000'000, "fan-in, shared, fan-out: publishers.");
  s->AddInt("subscribers", &subscribers, 0, 1'000'000,
            "fan-in, fan-out: subscribers (0: publishers only, QoS >= 1, bounded by "
            "--inflight); shared: members of the group (>= 1).");
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
}

namespace {

enum class Role { kSubscriber, kPublisher, kIdle };

struct Publisher {
  Client* client = nullptr;
  uint32_t id = 0;
  std::string frame;       // encoded PUBLISH template
  size_t packet_id_at = 0; // offset of the packet id in `frame` (QoS > 0)
  size_t payload_at = 0;   // offset of the payload in `frame`
  uint32_t fanout = 0;     // sinks expecting each message
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t delivered = 0;    // unique deliveries over all sinks
  uint64_t written_off = 0;  // deliveries given up on by the stall check
  uint64_t progress_mark = 0;
  int64_t progress_ns = 0;
  std::vector<int64_t> slot_sent_ns;  // by packet id - 1; 0 = free
  uint32_t next_slot = 0;
  uint32_t inflight = 0;
};

// Who must receive every message of a publisher exactly once: one subscriber, or one
// shared-subscription group.
struct Sink {
  std::unordered_map<uint32_t, SequenceTracker> by_publisher;
  bool alive = true;
};

struct Subscriber {
  Client* client = nullptr;
  uint32_t sink = 0;
  std::string filter;
  bool subscribed = false;
  std::unordered_map<uint32_t, SequenceTracker> order;  // shared only: order per member
};

class Bench : public ClientListener {
 public:
  explicit Bench(const ScenarioOptions& o) : o_(o), timer_(io_), deadline_(io_) {}
  int Run();

  void OnConnected(Client* c) override;
  void OnFailed(Client* c, const std::string& why) override;
  void OnSubscribed(Client* c, bool ok) override;
  void OnMessage(Client* c, std::string_view payload) override;
  void OnAcked(Client* c, uint16_t packet_id) override;

 private:
  enum class Phase { kConnectSubs, kConnectPubs, kConnectIdle, kRun, kDrain, kIdle, kDone };

  bool Build();
  std::string PublisherTopic(uint32_t i) const;
  bool SinkExpects(uint32_t sink, uint32_t publisher) const;
  void StartConnecting(std::vector<uint32_t> indexes);
  void ConnectTick();
  void ConnectDone(Client* c);
  void StartRun();
  void RunTick();
  bool CanSend(Publisher& p) const;
  void SendOne(Publisher& p);
  void Pump(Publisher& p);
  void Stop();
  void Finish(bool completed, const std::string& error = "");
  void Announce(const char* name);
  void PrintResult(bool completed, const std::string& error);

  ScenarioOptions o_;
  asio::io_context io_;
  asio::steady_timer timer_;
  asio::steady_timer deadline_;
  tcp::endpoint broker_;
  mqtt::Version version_ = mqtt::Version::k311;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Role> roles_;
  std::vector<uint32_t> role_index_;  // client index -> index in pubs_/subs_
  std::vector<Publisher> pubs_;
  std::vector<Subscriber> subs_;
  std::vector<Sink> sinks_;
  bool shared_ = false;
  enum Phase phase_ = Phase::kConnectSubs;
  int exit_code_ = 0;

  // Connection setup.
  std::vector<uint32_t> to_connect_;
  size_t connect_next_ = 0;
  size_t connect_pending_ = 0;  // started, awaiting CONNACK (and SUBACK)
  size_t connect_done_ = 0;
  int64_t connect_phase_ns_ = 0;
  uint64_t connect_ok_ = 0, connect_failed_ = 0, disconnects_ = 0;
  int64_t first_connect_start_ns_ = 0, last_connack_ns_ = 0;
  LatencyHistogram connect_latency_;
  std::string first_error_;

  // Run.
  int64_t run_start_ns_ = 0, measure_start_ns_ = 0, stop_ns_ = 0, drain_end_ns_ = 0;
  bool publishing_ = false;
  bool measure_announced_ = false;
  int64_t last_stall_check_ns_ = 0;
  uint64_t total_sent_ = 0, paced_sent_ = 0, pace_skipped_ = 0;
  size_t pace_cursor_ = 0;
  uint64_t window_deliveries_ = 0, window_publishes_ = 0, window_acks_ = 0, deliveries_ = 0;
  uint64_t duplicates_ = 0, out_of_order_ = 0, stray_ = 0;
  LatencyHistogram e2e_, ack_;
};

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

std::string Bench::PublisherTopic(uint32_t i) const {
  const std::string& p = o_.topic_prefix;
  if (o_.scenario == "p2p") return p + "/p2p/" + std::to_string(i);
  if (o_.scenario == "fan-out") return p + "/out/" + std::to_string(i % o_.topics);
  return p + "/in/" + std::to_string(i % o_.topics);
}

bool Bench::SinkExpects(uint32_t sink, uint32_t publisher) const {
  if (o_.scenario == "p2p") return sink == publisher;
  if (o_.scenario == "fan-out") return sink % o_.topics == publisher % o_.topics;
  return true;  // fan-in and shared: a wildcard over every topic
}

bool Bench::Build() {
  if (!ParseBroker(o_.broker, &broker_)) {
    std::fprintf(stderr, "loadgen: --broker: expected IPv4 HOST:PORT, got '%s'\n",
                 o_.broker.c_str());
    return false;
  }
  version_ = o_.mqtt_version == "5" ? mqtt::Version::k5 : mqtt::Version::k311;
  shared_ = o_.scenario == "shared";
  const std::string run_id = std::to_string(NowNs() % 1'000'000'000);
  uint32_t n_pubs = 0, n_subs = 0, n_idle = 0;
  if (o_.scenario == "p2p") {
    n_pubs = n_subs = static_cast<uint32_t>(o_.clients);
  } else if (o_.scenario == "conn") {
    n_idle = static_cast<uint32_t>(o_.clients);
  } else {
    n_pubs = static_cast<uint32_t>(o_.publishers);
    n_subs = static_cast<uint32_t>(o_.subscribers);
  }
  ClientOptions base;
  base.version = version_;
  base.keep_alive_s = static_cast<uint16_t>(o_.keep_alive_s);
  base.connect_timeout_ms = o_.connect_timeout_ms;
  auto add = [&](Role role, uint32_t i, const char* tag, size_t buffer) {
    ClientOptions co = base;
    co.read_buffer_bytes = buffer;
    if (role == Role::kSubscriber) co.receive_maximum = static_cast<uint16_t>(o_.inflight);
    std::string id = std::string("bench-") + tag + std::to_string(i) + "-" + run_id;
    clients_.push_back(std::make_unique<Client>(io_, this, static_cast<uint32_t>(clients_.size()),
                                                std::move(id), co));
    roles_.push_back(role);
    role_index_.push_back(i);
  };
  if (n_subs == 0 && o_.scenario != "conn" && (shared_ || o_.qos == 0)) {
    std::fprintf(stderr, "loadgen: --subscribers 0 needs fan-in or fan-out with --qos 1 or 2 "
                         "(publishers are then bounded by --inflight)\n");
    return false;
  }
  const uint32_t n_sinks = shared_ ? 1 : n_subs;
  sinks_.resize(n_sinks);
  for (uint32_t i = 0; i < n_subs; ++i) {
    add(Role::kSubscriber, i, "s", 64 * 1024);
    Subscriber s;
    s.client = clients_.back().get();
    s.sink = shared_ ? 0 : i;
    if (o_.scenario == "p2p") {
      s.filter = PublisherTopic(i);
    } else if (o_.scenario == "fan-out") {
      s.filter = o_.topic_prefix + "/out/" + std::to_string(i % o_.topics);
    } else if (shared_) {
      s.filter = "$share/" + o_.shared_group + "/" + o_.topic_prefix + "/in/+";
    } else {
      s.filter = o_.topic_prefix + "/in/+";
    }
    subs_.push_back(std::move(s));
  }
  for (uint32_t i = 0; i < n_pubs; ++i) {
    add(Role::kPublisher, i, "p", 4 * 1024);
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
  for (uint32_t i = 0; i < n_idle; ++i) add(Role::kIdle, i, "c", 512);
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
    clients_[i]->Start(broker_, source);
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

void Bench::StartRun() {
  phase_ = Phase::kRun;
  deadline_.cancel();
  Announce("connected");
  run_start_ns_ = NowNs();
  measure_start_ns_ = run_start_ns_ + o_.warmup_ms * 1'000'000;
  stop_ns_ = run_start_ns_ + o_.duration_s * 1'000'000'000;
  publishing_ = true;
  for (auto& p : pubs_) p.progress_ns = run_start_ns_;
  if (o_.rate == 0) {
    for (auto& p : pubs_) Pump(p);
  }
  RunTick();
}

// Every millisecond: measurement phase changes, pacing, and (maximum rate) the stall check.
void Bench::RunTick() {
  const int64_t now = NowNs();
  if (phase_ == Phase::kRun) {
    if (!measure_announced_ && now >= measure_start_ns_) {
      measure_announced_ = true;
      Announce("measure");
    }
    bool all_done = o_.messages > 0;
    for (auto& p : pubs_) all_done = all_done && p.sent >= static_cast<uint64_t>(o_.messages);
    if (now >= stop_ns_ || all_done) {
      Stop();
    } else if (o_.rate > 0) {
      int64_t due = static_cast<int64_t>((now - run_start_ns_) / 1e9 * o_.rate) -
                    static_cast<int64_t>(paced_sent_);
      if (due > o_.rate / 10 + 1) {  // more than 100 ms behind: give up on the backlog
        pace_skipped_ += static_cast<uint64_t>(due - o_.rate / 10);
        paced_sent_ += static_cast<uint64_t>(due - o_.rate / 10);
        due = o_.rate / 10;
      }
      size_t misses = 0;
      while (due > 0 && misses < pubs_.size()) {
        Publisher& p = pubs_[pace_cursor_];
        pace_cursor_ = (pace_cursor_ + 1) % pubs_.size();
        if (CanSend(p)) {
          SendOne(p);
          p.client->Flush();
          --due;
          ++paced_sent_;
          misses = 0;
        } else {
          ++misses;
        }
      }
    } else if (now - last_stall_check_ns_ > 200'000'000) {
      // Closed loop: a message lost by the broker would hold its window slot forever.
      last_stall_check_ns_ = now;
      for (auto& p : pubs_) {
        uint64_t outstanding = p.sent * p.fanout - p.delivered - p.written_off;
        if (p.delivered != p.progress_mark) {
          p.progress_mark = p.delivered;
          p.progress_ns = now;
        } else if (outstanding > 0 && now - p.progress_ns > 1'000'000'000) {
          p.written_off += outstanding;
          p.progress_ns = now;
          Pump(p);
        }
      }
    }
  } else if (phase_ == Phase::kDrain) {
    bool drained = true;
    for (auto& p : pubs_) {
      uint64_t expected = 0;
      for (uint32_t k = 0; k < sinks_.size(); ++k)
        if (sinks_[k].alive && SinkExpects(k, p.id)) expected += p.sent;
      if (p.delivered < expected || p.inflight > 0) drained = false;
    }
    if (drained || now >= drain_end_ns_) return Finish(true);
  } else {
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) RunTick();
  });
}

bool Bench::CanSend(Publisher& p) const {
  if (!publishing_ || !p.client->connected() || p.client->closed()) return false;
  if (o_.messages > 0 && p.sent >= static_cast<uint64_t>(o_.messages)) return false;
  if (o_.qos > 0 && (p.inflight >= static_cast<uint32_t>(o_.inflight) ||
                     p.slot_sent_ns[p.next_slot] != 0))
    return false;
  if (p.client->out_bytes() > (1u << 20)) return false;
  if (o_.rate == 0) {
    uint64_t outstanding = p.sent * p.fanout - p.delivered - p.written_off;
    if (outstanding >= static_cast<uint64_t>(o_.window) * std::max<uint32_t>(p.fanout, 1))
      return false;
  }
  return true;
}

void Bench::SendOne(Publisher& p) {
  const int64_t now = NowNs();
  std::string& out = p.client->out();
  size_t at = out.size();
  out.append(p.frame);
  if (o_.qos > 0) {
    uint16_t packet_id = static_cast<uint16_t>(p.next_slot + 1);
    out[at + p.packet_id_at] = static_cast<char>(packet_id >> 8);
    out[at + p.packet_id_at + 1] = static_cast<char>(packet_id);
    p.slot_sent_ns[p.next_slot] = now;
    p.next_slot = (p.next_slot + 1) % p.slot_sent_ns.size();
    p.inflight++;
  }
  WriteProbe(Probe{p.id, static_cast<uint32_t>(p.sent), now}, out.data() + at + p.payload_at);
  p.sent++;
  total_sent_++;
  if (now >= measure_start_ns_) window_publishes_++;
}

void Bench::Pump(Publisher& p) {
  bool any = false;
  while (CanSend(p)) {
    SendOne(p);
    any = true;
  }
  if (any) p.client->Flush();
}

void Bench::OnAcked(Client* c, uint16_t packet_id) {
  if (roles_[c->index()] != Role::kPublisher || packet_id == 0) return;
  Publisher& p = pubs_[role_index_[c->index()]];
  if (packet_id > p.slot_sent_ns.size() || p.slot_sent_ns[packet_id - 1] == 0) return;
  int64_t sent_ns = std::exchange(p.slot_sent_ns[packet_id - 1], 0);
  p.inflight--;
  p.acked++;
  if (sent_ns >= measure_start_ns_ && phase_ == Phase::kRun) {
    ack_.Record(NowNs() - sent_ns);
    window_acks_++;
  }
  if (o_.rate == 0 && phase_ == Phase::kRun) Pump(p);
}

void Bench::OnMessage(Client* c, std::string_view payload) {
  if (roles_[c->index()] != Role::kSubscriber) return;
  Probe probe;
  if (!ReadProbe(payload, &probe) || probe.publisher >= pubs_.size()) {
    stray_++;
    return;
  }
  const int64_t now = NowNs();
  Subscriber& s = subs_[role_index_[c->index()]];
  if (!SinkExpects(s.sink, probe.publisher)) {
    stray_++;
    return;
  }
  SequenceTracker& t = sinks_[s.sink].by_publisher[probe.publisher];
  uint64_t before_unique = t.unique(), before_ooo = t.out_of_order();
  t.Observe(probe.seq);
  if (shared_) {
    SequenceTracker& member = s.order[probe.publisher];
    uint64_t ooo = member.out_of_order();
    member.Observe(probe.seq);
    out_of_order_ += member.out_of_order() - ooo;
  } else {
    out_of_order_ += t.out_of_order() - before_ooo;
  }
  deliveries_++;
  if (t.unique() == before_unique) {
    duplicates_++;
    return;
  }
  if (probe.sent_ns >= measure_start_ns_ && probe.sent_ns < stop_ns_) e2e_.Record(now - probe.sent_ns);
  if (now >= measure_start_ns_ && phase_ == Phase::kRun) window_deliveries_++;
  Publisher& p = pubs_[probe.publisher];
  p.delivered++;
  if (o_.rate == 0 && phase_ == Phase::kRun) Pump(p);
}

void Bench::Stop() {
  publishing_ = false;
  stop_ns_ = NowNs();
  Announce("stop");
  phase_ = Phase::kDrain;
  drain_end_ns_ = stop_ns_ + o_.drain_ms * 1'000'000;
}

void Bench::Finish(bool completed, const std::string& error) {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  exit_code_ = completed ? 0 : 1;
  PrintResult(completed, error);
  timer_.cancel();
  deadline_.cancel();
  for (auto& c : clients_) c->Close();
  io_.stop();
}

void Bench::PrintResult(bool completed, const std::string& error) {
  const int64_t end_ns = NowNs();
  const double window_s =
      std::max<int64_t>(1, stop_ns_ - measure_start_ns_) / 1e9;
  uint64_t sent = 0, acked = 0, lost = 0, written_off = 0;
  for (const auto& p : pubs_) {
    sent += p.sent;
    acked += p.acked;
    written_off += p.written_off;
  }
  for (uint32_t k = 0; k < sinks_.size(); ++k) {
    if (!sinks_[k].alive) continue;
    for (const auto& p : pubs_) {
      if (!SinkExpects(k, p.id)) continue;
      auto it = sinks_[k].by_publisher.find(p.id);
      lost += it == sinks_[k].by_publisher.end() ? p.sent : it->second.Lost(p.sent);
    }
  }
  rusage self;
  getrusage(RUSAGE_SELF, &self);
  const double cpu_s = self.ru_utime.tv_sec + self.ru_stime.tv_sec +
                       (self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  const bool ran = run_start_ns_ > 0;
  const double connect_span_s =
      std::max<int64_t>(1, last_connack_ns_ - first_connect_start_ns_) / 1e9;
  std::string json;
  char buf[256];
  auto num = [&](const char* key, double v) {
    std::snprintf(buf, sizeof buf, "\"%s\":%.6g,", key, v);
    json += buf;
  };
  json += "{\"scenario\":\"" + o_.scenario + "\",\"completed\":" + (completed ? "true" : "false") + ",";
  std::string err = error.empty() ? first_error_ : error;
  for (char& ch : err) if (ch == '"' || ch == '\\') ch = '\'';
  json += "\"error\":\"" + err + "\",";
  num("qos", o_.qos);
  num("payload_bytes", o_.payload_bytes);
  num("rate", o_.rate);
  num("publishers", pubs_.size());
  num("subscribers", subs_.size());
  num("connections", clients_.size());
  num("connect_ok", connect_ok_);
  num("connect_failed", connect_failed_);
  num("disconnects", disconnects_);
  num("connect_rate_per_s", connect_ok_ / connect_span_s);
  num("connect_p50_ns", connect_latency_.Percentile(0.5));
  num("connect_p99_ns", connect_latency_.Percentile(0.99));
  num("connect_max_ns", connect_latency_.max_ns());
  num("window_s", ran ? window_s : 0);
  num("published", sent);
  num("acked", acked);
  num("delivered", deliveries_);
  num("delivered_per_s", ran ? window_deliveries_ / window_s : 0);
  num("published_per_s", ran ? window_publishes_ / window_s : 0);
  // Publishes sent in the measured window and acknowledged (PUBACK / PUBCOMP) during it.
  num("acked_per_s", ran ? window_acks_ / window_s : 0);
  num("window_acked", window_acks_);
  num("window_delivered", window_deliveries_);
  num("lost", lost);
  num("duplicates", duplicates_);
  num("out_of_order", out_of_order_);
  num("stray", stray_);
  num("written_off", written_off);
  num("pace_skipped", pace_skipped_);
  num("e2e_count", e2e_.count());
  num("e2e_p50_ns", e2e_.Percentile(0.5));
  num("e2e_p99_ns", e2e_.Percentile(0.99));
  num("e2e_p999_ns", e2e_.Percentile(0.999));
  num("e2e_max_ns", e2e_.max_ns());
  num("ack_p50_ns", ack_.Percentile(0.5));
  num("ack_p99_ns", ack_.Percentile(0.99));
  num("ack_p999_ns", ack_.Percentile(0.999));
  num("ack_max_ns", ack_.max_ns());
  num("loadgen_cpu_s", cpu_s);
  num("elapsed_s", (end_ns - (first_connect_start_ns_ ? first_connect_start_ns_ : end_ns)) / 1e9);
  json.back() = '}';
  std::fprintf(stderr,
               "%s: %s delivered %.0f msg/s (published %.0f/s, acked %.0f/s) e2e p50 %s p99 %s "
               "p999 %s, ack p50 %s p99 %s; lost %llu dup %llu ooo %llu; connects %llu ok %llu failed "
               "(%.0f/s, p99 %s)%s%s\n",
               o_.scenario.c_str(), completed ? "ok" : "FAILED",
               ran ? window_deliveries_ / window_s : 0.0, ran ? window_publishes_ / window_s : 0.0,
               ran ? window_acks_ / window_s : 0.0,
               FormatNs(e2e_.Percentile(0.5)).c_str(), FormatNs(e2e_.Percentile(0.99)).c_str(),
               FormatNs(e2e_.Percentile(0.999)).c_str(), FormatNs(ack_.Percentile(0.5)).c_str(),
               FormatNs(ack_.Percentile(0.99)).c_str(), static_cast<unsigned long long>(lost),
               static_cast<unsigned long long>(duplicates_),
               static_cast<unsigned long long>(out_of_order_),
               static_cast<unsigned long long>(connect_ok_),
               static_cast<unsigned long long>(connect_failed_), connect_ok_ / connect_span_s,
               FormatNs(connect_latency_.Percentile(0.99)).c_str(), err.empty() ? "" : "; ",
               err.c_str());
  std::printf("result %s\n", json.c_str());
  std::fflush(stdout);
}

}  // namespace

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
