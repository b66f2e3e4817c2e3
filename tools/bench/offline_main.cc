// offline: the load generator of the offline-sessions benchmark (tools/bench/offline.py,
// README "Sessions read their backlog from the log"). One step per invocation, so the
// harness can sample (and kill -9, and restart) the broker between steps:
//   sessions  connect --sessions persistent sessions off-<i> (3.1.1 clean session 0, or MQTT 5
//             with a session expiry), each subscribing to offline/<i % topics> at --qos, and
//             disconnect them
//   publish   one connection publishes --messages-per-topic messages to each of the --topics
//             topics at --qos (round-robin over topics, at most --inflight unacknowledged); the
//             payload carries the topic and a sequence number
//   catchup   reconnect the first --catchup-sessions sessions (without subscribing: the
//             sessions have their subscriptions) and read every message until each has
//             --messages-per-topic of them or nothing arrives for --idle-timeout-ms
// The last stdout line is "result {json}". Exit 0 when the step ran (losses are reported,
// not failures), 1 when it could not (setup failed, timed out), 2 for bad options.
// Single-threaded: every client runs on one io_context.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/config.h"
#include "mqtt/codec/codec.h"
#include "tools/bench/client.h"

namespace sluice::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Options {
  std::string broker = "127.0.0.1:1883";
  std::string step = "sessions";
  int64_t sessions = 10'000;
  int64_t topics = 100;
  int64_t messages_per_topic = 1'000;
  int64_t catchup_sessions = 0;  // 0: all
  int64_t qos = 1;
  int64_t payload_bytes = 64;
  int64_t inflight = 64;
  int64_t connect_concurrency = 512;
  int64_t source_addresses = 8;
  int64_t idle_timeout_ms = 10'000;
  int64_t connect_timeout_ms = 120'000;
  int64_t timeout_s = 600;
  std::string mqtt_version = "3.1.1";

  void Register(ConfigSchema* s) {
    s->AddString("broker", &broker, "Broker address HOST:PORT (IPv4).");
    s->AddEnum("step", &step, {"sessions", "publish", "catchup"},
               "sessions (create and leave them offline) | publish | catchup (reconnect, read).");
    s->AddInt("sessions", &sessions, 1, 1'000'000, "Persistent sessions off-0..N-1.");
    s->AddInt("topics", &topics, 1, 1'000'000, "Session i subscribes to offline/<i % topics>.");
    s->AddInt("messages_per_topic", &messages_per_topic, 1, 100'000'000,
              "Messages published to each topic: every session's backlog.");
    s->AddInt("catchup_sessions", &catchup_sessions, 0, 1'000'000,
              "catchup: reconnect the first N sessions (0: all).");
    s->AddInt("qos", &qos, 1, 2, "QoS of subscriptions and publishes.");
    s->AddInt("payload_bytes", &payload_bytes, 16, 1 << 20, "Payload size (>= 16).");
    s->AddInt("inflight", &inflight, 1, 65535, "publish: unacknowledged publishes at most.");
    s->AddInt("connect_concurrency", &connect_concurrency, 1, 100'000,
              "Connects awaiting CONNACK (and SUBACK) at most.");
    s->AddInt("source_addresses", &source_addresses, 1, 250, "Source IPs 127.0.0.1..N.");
    s->AddInt("idle_timeout_ms", &idle_timeout_ms, 100, 600'000,
              "catchup: stop when nothing arrived for this long.");
    s->AddInt("connect_timeout_ms", &connect_timeout_ms, 100, 3'600'000,
              "Per connection: CONNACK (and SUBACK) within this.");
    s->AddInt("timeout_s", &timeout_s, 1, 36'000, "The whole step.");
    s->AddEnum("mqtt_version", &mqtt_version, {"3.1.1", "5"}, "MQTT version.");
  }
};

struct Received {
  std::vector<bool> seen;   // by sequence number
  int64_t count = 0;        // distinct
  int64_t duplicates = 0;
  int64_t out_of_order = 0;
  int64_t last = -1;
};

class Offline : public ClientListener {
 public:
  explicit Offline(const Options& o) : o_(o), timer_(io_), deadline_(io_) {}

  int Run() {
    auto colon = o_.broker.rfind(':');
    boost::system::error_code ec;
    if (colon == std::string::npos) return Usage("--broker: expected HOST:PORT");
    broker_ = tcp::endpoint(asio::ip::make_address(o_.broker.substr(0, colon), ec),
                            static_cast<uint16_t>(std::atoi(o_.broker.c_str() + colon + 1)));
    if (ec || broker_.port() == 0) return Usage("--broker: expected IPv4 HOST:PORT");
    version_ = o_.mqtt_version == "5" ? mqtt::Version::k5 : mqtt::Version::k311;
    deadline_.expires_after(std::chrono::seconds(o_.timeout_s));
    deadline_.async_wait([this](const boost::system::error_code& e) {
      if (!e) Finish(1, "timed out");
    });
    start_ns_ = NowNs();
    if (o_.step == "publish") {
      StartPublisher();
    } else {
      const int64_t n = o_.step == "catchup" && o_.catchup_sessions > 0
                            ? std::min(o_.catchup_sessions, o_.sessions)
                            : o_.sessions;
      received_.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) clients_.push_back(MakeSession(static_cast<uint32_t>(i)));
      ConnectMore();
      if (o_.step == "catchup") ArmIdle();
    }
    io_.run();
    return exit_code_;
  }

  void OnConnected(Client* c) override {
    if (o_.step == "publish") return Publish(static_cast<size_t>(o_.inflight));
    if (o_.step == "sessions") return c->Subscribe(TopicOf(c->index()), static_cast<uint8_t>(o_.qos));
    ++connected_;
    --pending_;
    ConnectMore();
  }

  void OnSubscribed(Client* c, bool ok) override {
    if (!ok) return Finish(1, "SUBACK refused for session " + std::to_string(c->index()));
    c->Close();  // offline from now on
    ++connected_;
    --pending_;
    ConnectMore();
    if (connected_ == static_cast<int64_t>(clients_.size())) Finish(0, "");
  }

  void OnFailed(Client* c, const std::string& why) override {
    Finish(1, "client " + std::to_string(c->index()) + ": " + why);
  }

  void OnMessage(Client* c, std::string_view payload) override {
    last_message_ns_ = NowNs();
    ++deliveries_;
    if (payload.size() < 16) return;
    int64_t seq = 0;
    std::memcpy(&seq, payload.data(), sizeof seq);
    Received& r = received_[c->index()];
    if (r.seen.empty()) r.seen.assign(static_cast<size_t>(o_.messages_per_topic), false);
    if (seq < 0 || seq >= o_.messages_per_topic) return;
    if (r.seen[static_cast<size_t>(seq)]) {
      ++r.duplicates;
    } else {
      r.seen[static_cast<size_t>(seq)] = true;
      if (++r.count == o_.messages_per_topic) ++complete_;
    }
    if (seq < r.last) ++r.out_of_order;
    r.last = std::max(r.last, seq);
    if (complete_ == static_cast<int64_t>(received_.size())) Finish(0, "");
  }

  void OnAcked(Client*, uint16_t packet_id) override {
    ++acked_;
    free_ids_.push_back(packet_id);
    if (acked_ == total_records()) return Finish(0, "");
    Publish(1);
  }

 private:
  int Usage(const char* message) {
    std::fprintf(stderr, "offline: %s\n", message);
    return 2;
  }

  int64_t total_records() const { return o_.topics * o_.messages_per_topic; }
  std::string TopicOf(uint32_t session) const {
    return "offline/" + std::to_string(session % o_.topics);
  }

  std::unique_ptr<Client> MakeSession(uint32_t i) {
    ClientOptions co;
    co.version = version_;
    co.clean_start = false;
    co.session_expiry_s = 0xFFFFFFFF;
    co.read_buffer_bytes = o_.step == "catchup" ? 16 * 1024 : 512;
    co.receive_maximum = 64;
    co.connect_timeout_ms = o_.connect_timeout_ms;
    return std::make_unique<Client>(io_, this, i, "off-" + std::to_string(i), co);
  }

  void ConnectMore() {
    while (next_ < clients_.size() && pending_ < o_.connect_concurrency) {
      const uint32_t n = static_cast<uint32_t>(1 + next_ % o_.source_addresses);
      clients_[next_++]->Start(broker_, asio::ip::address_v4((127u << 24) | n));
      ++pending_;
    }
    if (o_.step == "catchup" && next_ == clients_.size() && pending_ == 0 && !all_connected_) {
      all_connected_ = true;
      connected_ns_ = NowNs();
    }
  }

  void ArmIdle() {
    timer_.expires_after(std::chrono::milliseconds(o_.idle_timeout_ms / 4));
    timer_.async_wait([this](const boost::system::error_code& e) {
      if (e || done_) return;
      const int64_t since = NowNs() - std::max(last_message_ns_, connected_ns_);
      if (all_connected_ && since > o_.idle_timeout_ms * 1'000'000) return Finish(0, "");
      ArmIdle();
    });
  }

  void StartPublisher() {
    ClientOptions co;
    co.version = version_;
    co.read_buffer_bytes = 64 * 1024;
    clients_.push_back(std::make_unique<Client>(io_, this, 0, "off-publisher", co));
    for (int64_t id = 1; id <= o_.inflight; ++id) free_ids_.push_back(static_cast<uint16_t>(id));
    clients_[0]->Start(broker_, asio::ip::address_v4((127u << 24) | 1));
  }

  void Publish(size_t n) {
    Client& c = *clients_[0];
    for (size_t k = 0; k < n && sent_ < total_records() && !free_ids_.empty(); ++k) {
      const int64_t topic = sent_ % o_.topics;
      const int64_t seq = sent_ / o_.topics;
      mqtt::Publish p;
      p.topic = "offline/" + std::to_string(topic);
      p.qos = static_cast<uint8_t>(o_.qos);
      p.packet_id = free_ids_.back();
      free_ids_.pop_back();
      p.payload.assign(static_cast<size_t>(o_.payload_bytes), 'x');
      std::memcpy(p.payload.data(), &seq, sizeof seq);
      std::memcpy(p.payload.data() + 8, &topic, sizeof topic);
      mqtt::Encode(p, version_, &c.out());
      ++sent_;
    }
    c.Flush();
  }

  void Finish(int code, const std::string& error) {
    if (done_) return;
    done_ = true;
    exit_code_ = code;
    const double seconds = static_cast<double>(NowNs() - start_ns_) / 1e9;
    std::string json = "{\"step\":\"" + o_.step + "\",\"seconds\":" + std::to_string(seconds);
    if (o_.step == "sessions") {
      json += ",\"sessions\":" + std::to_string(connected_);
    } else if (o_.step == "publish") {
      json += ",\"records\":" + std::to_string(acked_) +
              ",\"per_s\":" + std::to_string(static_cast<double>(acked_) / seconds);
    } else {
      int64_t distinct = 0, dup = 0, ooo = 0;
      for (const Received& r : received_) {
        distinct += r.count;
        dup += r.duplicates;
        ooo += r.out_of_order;
      }
      const int64_t expected = static_cast<int64_t>(received_.size()) * o_.messages_per_topic;
      const double read_s =
          last_message_ns_ > start_ns_ ? static_cast<double>(last_message_ns_ - start_ns_) / 1e9
                                       : 0.0;
      json += ",\"sessions\":" + std::to_string(received_.size()) +
              ",\"expected\":" + std::to_string(expected) +
              ",\"delivered\":" + std::to_string(distinct) +
              ",\"lost\":" + std::to_string(expected - distinct) +
              ",\"duplicates\":" + std::to_string(dup) +
              ",\"out_of_order\":" + std::to_string(ooo) +
              ",\"complete_sessions\":" + std::to_string(complete_) +
              ",\"read_s\":" + std::to_string(read_s) +
              ",\"all_connected_s\":" +
              std::to_string(connected_ns_ > 0 ? static_cast<double>(connected_ns_ - start_ns_) / 1e9
                                               : -1.0) +
              ",\"per_s\":" +
              std::to_string(read_s > 0 ? static_cast<double>(deliveries_) / read_s : 0.0);
    }
    if (!error.empty()) {
      json += ",\"error\":\"";
      for (char ch : error) json += (ch == '"' || ch == '\\') ? ' ' : ch;
      json += "\"";
    }
    json += "}";
    std::printf("result %s\n", json.c_str());
    std::fflush(stdout);
    for (auto& c : clients_) c->Close();
    timer_.cancel();
    deadline_.cancel();
    io_.stop();
  }

  Options o_;
  asio::io_context io_;
  asio::steady_timer timer_;
  asio::steady_timer deadline_;
  tcp::endpoint broker_;
  mqtt::Version version_ = mqtt::Version::k311;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Received> received_;
  std::vector<uint16_t> free_ids_;
  size_t next_ = 0;
  int64_t pending_ = 0;
  int64_t connected_ = 0;
  int64_t complete_ = 0;
  int64_t sent_ = 0;
  int64_t acked_ = 0;
  int64_t deliveries_ = 0;
  int64_t start_ns_ = 0;
  int64_t connected_ns_ = 0;
  int64_t last_message_ns_ = 0;
  bool all_connected_ = false;
  bool done_ = false;
  int exit_code_ = 0;
};

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  sluice::bench::Options options;
  sluice::ConfigSchema schema("offline",
                              "Offline persistent sessions: create, publish their backlog, "
                              "catch up (tools/bench/offline.py).");
  options.Register(&schema);
  auto parsed = schema.ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "offline: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->help_requested) {
    std::fputs(schema.Usage().c_str(), stdout);
    return 0;
  }
  return sluice::bench::Offline(options).Run();
}
