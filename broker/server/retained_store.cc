#include "broker/server/retained_store.h"

namespace sluice::broker {

void RetainedStore::Set(const MessagePtr& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (message->payload.empty()) {
    trie_.Erase(message->topic);
  } else {
    trie_.Set(message->topic, message);
  }
}

bool RetainedStore::Erase(std::string_view topic) {
  std::lock_guard<std::mutex> lock(mu_);
  return trie_.Erase(topic);
}

std::vector<MessagePtr> RetainedStore::Match(std::string_view filter) const {
  std::vector<MessagePtr> out;
  std::lock_guard<std::mutex> lock(mu_);
  trie_.Match(filter, [&](std::string_view, const MessagePtr& m) { out.push_back(m); });
  return out;
}

std::vector<MessagePtr> RetainedStore::All() const {
  std::vector<MessagePtr> out;
  std::lock_guard<std::mutex> lock(mu_);
  trie_.ForEach([&](std::string_view, const MessagePtr& m) { out.push_back(m); });
  return out;
}

size_t RetainedStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trie_.size();
}

}  // namespace sluice::broker
