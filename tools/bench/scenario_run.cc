// The run phase of a scenario (bench.h): pacing, the closed loop, acks and deliveries, the
// drain.
#include <algorithm>
#include <utility>

#include "tools/bench/bench.h"

namespace sluice::bench {

// Closed loop: at maximum rate, every publisher sends as its window (and, for QoS 1/2, its
// inflight limit) allows; paced scenarios (--rate, devices) send on the clock instead.
bool Bench::ClosedLoop() const { return o_.rate == 0 && !devices_; }

void Bench::StartRun() {
  phase_ = Phase::kRun;
  deadline_.cancel();
  Announce("connected");
  run_start_ns_ = NowNs();
  measure_start_ns_ = run_start_ns_ + o_.warmup_ms * 1'000'000;
  stop_ns_ = run_start_ns_ + o_.duration_s * 1'000'000'000;
  publishing_ = true;
  for (auto& p : pubs_) p.progress_ns = run_start_ns_;
  if (ClosedLoop()) {
    for (auto& p : pubs_) Pump(p);
  }
  RunTick();
}

// Every millisecond: measurement phase changes, pacing, and (maximum rate) the stall check;
// in the drain, whether everything arrived.
void Bench::RunTick() {
  const int64_t now = NowNs();
  if (phase_ == Phase::kRun) {
    if (!measure_announced_ && now >= measure_start_ns_) {
      measure_announced_ = true;
      Announce("measure");
    }
    bool all_done = o_.messages > 0;
    for (size_t i = 0; all_done && i < pubs_.size(); ++i)
      all_done = pubs_[i].sent >= static_cast<uint64_t>(o_.messages);
    if (now >= stop_ns_ || all_done) {
      Stop();
    } else if (devices_) {
      PaceDevices(now);
    } else if (o_.rate > 0) {
      PaceRoundRobin(now);
    } else if (!slow_) {
      CheckStalls(now);
    }
  } else if (phase_ == Phase::kDrain) {
    // Checking costs publishers x sinks: every 10 ms is soon enough.
    if (now - last_drain_check_ns_ >= 10'000'000 || now >= drain_end_ns_) {
      last_drain_check_ns_ = now;
      if (now >= drain_end_ns_ || Drained()) return Finish(true);
    }
  } else {
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) RunTick();
  });
}

// --rate: total publishes/s, round-robin; a publisher that cannot send yields its turn.
void Bench::PaceRoundRobin(int64_t now) {
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
}

// devices: each slot belongs to one client; a client that cannot send (its inflight window
// is full) misses that slot, which is counted, so every client keeps its own rate.
void Bench::PaceDevices(int64_t now) {
  SpreadPacer::Batch batch = device_pacer_->Due(now - run_start_ns_);
  pace_skipped_ += batch.skipped;
  for (uint64_t slot = batch.first_slot; slot < batch.end_slot; ++slot) {
    Publisher& p = pubs_[device_pacer_->ClientOf(slot)];
    if (!CanSend(p)) {
      ++pace_skipped_;
      continue;
    }
    SendOne(p);
    p.client->Flush();
    ++paced_sent_;
  }
}

// Closed loop: a message lost by the broker would hold its window slot forever; after 1 s
// without progress a publisher's outstanding deliveries are written off.
void Bench::CheckStalls(int64_t now) {
  if (now - last_stall_check_ns_ <= 200'000'000) return;
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

bool Bench::Drained() const {
  uint32_t alive = 0;  // sinks expecting everything (fan-in, shared, devices, slow)
  for (const Sink& s : sinks_) alive += s.alive ? 1 : 0;
  for (const auto& p : pubs_) {
    if (p.inflight > 0) return false;
    uint64_t expected = 0;
    if (EverySinkExpectsAll()) {
      expected = p.sent * alive;
    } else {
      for (uint32_t k = 0; k < sinks_.size(); ++k)
        if (sinks_[k].alive && SinkExpects(k, p.id)) expected += p.sent;
    }
    if (p.delivered < expected) return false;
  }
  return true;
}

bool Bench::CanSend(Publisher& p) const {
  if (!publishing_ || !p.client->connected() || p.client->closed()) return false;
  if (o_.messages > 0 && p.sent >= static_cast<uint64_t>(o_.messages)) return false;
  if (o_.qos > 0 && (p.inflight >= static_cast<uint32_t>(o_.inflight) ||
                     p.slot_sent_ns[p.next_slot] != 0))
    return false;
  if (p.client->out_bytes() > (1u << 20)) return false;
  if (ClosedLoop() && !slow_) {  // slow-subscriber: bounded by --inflight only
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
  if (ClosedLoop() && phase_ == Phase::kRun) Pump(p);
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
  if (phase_ != Phase::kRun) drain_deliveries_++;
  Publisher& p = pubs_[probe.publisher];
  p.delivered++;
  if (ClosedLoop() && phase_ == Phase::kRun) Pump(p);
}

void Bench::Stop() {
  publishing_ = false;
  stop_ns_ = NowNs();
  Announce("stop");
  phase_ = Phase::kDrain;
  drain_end_ns_ = stop_ns_ + o_.drain_ms * 1'000'000;
  // The drain measures what the broker kept, not how slowly the subscribers read.
  if (o_.subscriber_read_bytes_per_s > 0)
    for (auto& s : subs_) s.client->SetReadThrottle(0);
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

}  // namespace sluice::bench
