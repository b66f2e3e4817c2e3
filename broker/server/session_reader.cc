#include "broker/server/session_reader.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/server/shard.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

void SessionReader::Wake(const std::string& client_id) {
  if (!pending_set_.insert(client_id).second) return;
  pending_.push_back(client_id);
  if (posted_) return;
  posted_ = true;
  boost::asio::post(shard_->io(), [this] { Run(); });
}

void SessionReader::WakeIfWanted(const SessionHost& host) {
  if (host.connection && host.session.NextFetch()) Wake(host.session.client_id());
}

void SessionReader::Run() {
  posted_ = false;
  std::vector<std::string> batch;
  const size_t n = std::min(pending_.size(), kSessionsPerTurn);
  batch.assign(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
  for (const std::string& id : batch) pending_set_.erase(id);
  for (const std::string& id : batch) {
    SessionHost* host = shard_->Find(id);
    if (!host || !host->connection) continue;
    if (ReadFor(host)) Wake(id);  // more to read: after the others had their turn
  }
  if (!pending_.empty() && !posted_) {
    posted_ = true;
    boost::asio::post(shard_->io(), [this] { Run(); });
  }
}

bool SessionReader::ReadFor(SessionHost* host) {
  std::vector<std::string> filters;
  for (const auto& [full, options] : host->session.subscriptions()) {
    topic::ParsedFilter parsed;
    if (topic::ParseFilter(full, &parsed) && !parsed.shared) filters.emplace_back(parsed.filter);
  }
  for (int i = 0; i < kFetchesPerSession && !host->fetch_pending; ++i) {
    std::optional<Session::Fetch> f = host->session.NextFetch();
    if (!f) return false;
    const std::string id = host->session.client_id();
    // 0: Fetch under way, 1: answered during Fetch (the local source), 2: Fetch returned
    // first (a remote source answers later, on this thread, and wakes the session again).
    auto state = std::make_shared<int>(0);
    host->fetch_pending = true;
    source_->Fetch(f->partition, f->from, f->max_records, f->max_bytes, filters, shard_->NowMs(),
                   [this, id, fetch = *f, state](absl::StatusOr<FetchedRecords> r) {
                     const bool later = *state == 2;
                     *state = 1;
                     SessionHost* h = shard_->Find(id);  // may be gone by a late answer
                     if (h) h->fetch_pending = false;
                     if (!h || !h->connection) return;
                     Apply(h, fetch, std::move(r));
                     if (later) Wake(id);
                   });
    if (*state == 0) {
      *state = 2;
      return false;
    }
    if (!host->connection) return false;
  }
  return host->session.NextFetch().has_value();
}

void SessionReader::Apply(SessionHost* host, const Session::Fetch& fetch,
                          absl::StatusOr<FetchedRecords> r) {
  Session& session = host->session;
  BrokerStats& stats = shard_->stats();
  if (!session.StillWants(fetch)) return;
  if (!r.ok()) {
    if (absl::IsOutOfRange(r.status())) {
      absl::StatusOr<int64_t> start = source_->LogStart(fetch.partition);
      if (start.ok() && *start > fetch.from) {
        const uint64_t lost = session.counters().records_lost;
        session.OnRecordsLost(fetch.partition, *start);
        const uint64_t n = session.counters().records_lost - lost;
        BrokerStats::Inc(stats.session_records_lost, n);
        SLOG(kWarn).Kv("client_id", session.client_id()).Kv("partition", fetch.partition)
                .Kv("records_lost", n).Kv("log_start", *start)
            << "session lost records to the log's hard retention before reading them";
        shard_->MarkDirty(host);
        Wake(session.client_id());
        return;
      }
    }
    BrokerStats::Inc(stats.session_read_errors);
    SLOG(kWarn).Kv("client_id", session.client_id()).Kv("partition", fetch.partition)
            .Kv("error", r.status().message())
        << "reading a session's backlog from the log failed; retried on its next wake-up";
    return;
  }
  std::vector<Delivery> matched = Match(*host, r->messages);
  BrokerStats::Inc(stats.messages_read_from_log, matched.size());
  std::vector<Outbound> out;
  session.OnFetched(fetch.partition, std::move(matched), r->next, r->high_watermark,
                    shard_->NowMs(), &out);
  if (host->subscribed_at && !session.behind()) host->subscribed_at.reset();
  shard_->MarkDirty(host);
  if (host->connection && !out.empty()) host->connection->SendOutbound(out);
}

std::vector<Delivery> SessionReader::Match(
    const SessionHost& host, const std::vector<std::shared_ptr<Message>>& messages) {
  struct Sub {
    std::string_view filter;
    const topic::SubscriptionOptions* options;
    const std::vector<int64_t>* since;  // the high watermarks when it was subscribed, or null
  };
  std::vector<Sub> subs;
  for (const auto& [full, options] : host.session.subscriptions()) {
    topic::ParsedFilter parsed;
    if (!topic::ParseFilter(full, &parsed) || parsed.shared) continue;
    const std::vector<int64_t>* since = nullptr;
    if (host.subscribed_at) {
      auto it = host.subscribed_at->find(full);
      if (it != host.subscribed_at->end()) since = &it->second;
    }
    subs.push_back({parsed.filter, &options, since});
  }
  std::vector<Delivery> out;
  const std::string& client_id = host.session.client_id();
  for (const auto& m : messages) {
    Delivery d;
    bool any = false;
    for (const Sub& s : subs) {
      if (!topic::Matches(s.filter, m->topic)) continue;
      if (s.options->no_local && m->publisher == client_id) continue;
      if (s.since && m->partition < s.since->size() && m->offset < (*s.since)[m->partition])
        continue;
      any = true;
      d.qos = std::max(d.qos, std::min(m->qos, s.options->qos));
      d.retain |= s.options->retain_as_published && m->retain;
      if (s.options->subscription_id) d.subscription_ids.push_back(s.options->subscription_id);
    }
    if (!any || d.qos == 0) continue;
    std::sort(d.subscription_ids.begin(), d.subscription_ids.end());
    d.message = m;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace sluice::broker
