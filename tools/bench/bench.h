// Internal to loadgen: the state of one scenario run (scenario.h), split over
//   scenario.cc         options, building the clients, connection setup
//   scenario_run.cc     the run: pacing, closed loop, acks and deliveries, drain
//   scenario_result.cc  the result JSON and the summary line
// Thread-compatible: everything runs on the one io_context thread. Ownership: Bench owns
// the io_context and every client (destroyed after the io_context stopped running).
#ifndef SLUICE_TOOLS_BENCH_BENCH_H_
#define SLUICE_TOOLS_BENCH_BENCH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mqtt/codec/packets.h"
#include "tools/bench/client.h"
#include "tools/bench/pacing.h"
#include "tools/bench/scenario.h"
#include "tools/bench/stats.h"

namespace sluice::bench {

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

  // scenario.cc
  bool Build();
  bool CheckOptions() const;
  void AddPublisher(uint32_t i, const ClientOptions& base, uint32_t n_sinks);
  void AddClient(Role role, uint32_t i, const char* tag, ClientOptions co);
  std::string PublisherTopic(uint32_t i) const;
  std::string SubscriberFilter(uint32_t i) const;
  bool SinkExpects(uint32_t sink, uint32_t publisher) const;
  bool EverySinkExpectsAll() const;
  void StartConnecting(std::vector<uint32_t> indexes);
  void ConnectTick();
  void ConnectDone(Client* c);
  void Announce(const char* name);
  // scenario_run.cc
  bool ClosedLoop() const;
  void StartRun();
  void RunTick();
  void PaceRoundRobin(int64_t now);
  void PaceDevices(int64_t now);
  void CheckStalls(int64_t now);
  bool Drained() const;
  bool CanSend(Publisher& p) const;
  void SendOne(Publisher& p);
  void Pump(Publisher& p);
  void Stop();
  void Finish(bool completed, const std::string& error = "");
  // scenario_result.cc
  void PrintResult(bool completed, const std::string& error);

  ScenarioOptions o_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer deadline_;
  boost::asio::ip::tcp::endpoint broker_;
  boost::asio::ip::tcp::endpoint subscriber_broker_;  // --subscriber-broker, else broker_
  mqtt::Version version_ = mqtt::Version::k311;
  std::string run_id_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Role> roles_;
  std::vector<uint32_t> role_index_;  // client index -> index in pubs_/subs_
  std::vector<Publisher> pubs_;
  std::vector<Subscriber> subs_;
  std::vector<Sink> sinks_;
  bool shared_ = false;
  bool devices_ = false;
  bool slow_ = false;  // slow-subscriber
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
  int64_t last_drain_check_ns_ = 0;
  bool publishing_ = false;
  bool measure_announced_ = false;
  int64_t last_stall_check_ns_ = 0;
  uint64_t total_sent_ = 0, paced_sent_ = 0, pace_skipped_ = 0;
  size_t pace_cursor_ = 0;
  std::optional<SpreadPacer> device_pacer_;
  uint64_t window_deliveries_ = 0, window_publishes_ = 0, window_acks_ = 0, deliveries_ = 0;
  uint64_t drain_deliveries_ = 0;  // unique deliveries after publishing stopped
  uint64_t duplicates_ = 0, out_of_order_ = 0, stray_ = 0;
  LatencyHistogram e2e_, ack_;
};

}  // namespace sluice::bench

#endif  // SLUICE_TOOLS_BENCH_BENCH_H_
