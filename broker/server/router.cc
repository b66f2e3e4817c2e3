#include "broker/server/router.h"

#include <algorithm>

#include "base/strings.h"

namespace sluice::broker {

size_t Router::Route(const MessagePtr& message, bool random_share) {
  aggregate_.clear();
  size_t addressed = 0;
  trie_.Match(
      message->topic,
      [&](const topic::SubscriberEntry& e) {
        if (e.options.no_local && e.client_id == message->publisher) return;
        Aggregate& a = aggregate_[Av(e.client_id)];
        a.shard = e.shard;
        a.qos = std::max(a.qos, e.options.qos);
        a.retain_as_published |= e.options.retain_as_published;
        if (e.options.subscription_id) a.subscription_ids.push_back(e.options.subscription_id);
      },
      [&](std::vector<topic::SubscriberEntry>& members, size_t& cursor) {
        size_t pick = random_share ? rng_->Uniform(members.size()) : cursor++ % members.size();
        const topic::SubscriberEntry& e = members[pick];
        Delivery d;
        d.message = message;
        d.shared = true;
        d.qos = std::min(message->qos, e.options.qos);
        d.retain = e.options.retain_as_published && message->retain;
        if (e.options.subscription_id) d.subscription_ids.push_back(e.options.subscription_id);
        ++addressed;
        Dispatch(e.client_id, e.shard, std::move(d));
      });
  for (auto& [client_id, a] : aggregate_) {
    Delivery d;
    d.message = message;
    d.qos = std::min(message->qos, a.qos);
    d.retain = a.retain_as_published && message->retain;
    std::sort(a.subscription_ids.begin(), a.subscription_ids.end());
    d.subscription_ids = std::move(a.subscription_ids);
    ++addressed;
    Dispatch(Sv(client_id), a.shard, std::move(d));
  }
  Flush();
  return addressed;
}

void Router::Dispatch(std::string_view client_id, uint32_t shard, Delivery delivery) {
  if (shard == self_) {
    target_->Deliver(client_id, std::move(delivery));
  } else {
    outbox_[shard].emplace_back(std::string(client_id), std::move(delivery));
  }
}

void Router::Flush() {
  for (uint32_t i = 0; i < outbox_.size(); ++i) {
    if (outbox_[i].empty()) continue;
    target_->Post(i, std::move(outbox_[i]));
    outbox_[i].clear();
  }
}

}  // namespace sluice::broker
