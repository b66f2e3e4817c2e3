#include "mqtt/topic/subscription_trie.h"

#include "mqtt/topic/levels.h"

namespace sluice::topic {
namespace {

std::vector<std::string_view> Levels(std::string_view filter) {
  std::vector<std::string_view> levels;
  ForEachLevel(filter, [&](std::string_view level) { levels.push_back(level); });
  return levels;
}

}  // namespace

SubscriptionTrie::SubscriptionTrie() : root_(std::make_unique<Node>()) {}

// Node destructors would recurse once per level (a unique_ptr chain as deep as the deepest
// filter): take the tree apart with a worklist instead.
SubscriptionTrie::~SubscriptionTrie() {
  std::vector<std::unique_ptr<Node>> work;
  work.push_back(std::move(root_));
  while (!work.empty()) {
    std::unique_ptr<Node> node = std::move(work.back());
    work.pop_back();
    for (auto& [level, child] : node->children) work.push_back(std::move(child));
  }
}

bool SubscriptionTrie::Add(std::string_view filter, std::string_view group,
                           std::string_view client_id, uint32_t shard,
                           const SubscriptionOptions& options) {
  Node* node = root_.get();
  ForEachLevel(filter, [&](std::string_view level) {
    auto& child = node->children[Av(level)];
    if (!child) child = std::make_unique<Node>();
    node = child.get();
  });
  SubscriberEntry entry{std::string(client_id), shard, options};
  if (group.empty()) {
    auto [it, inserted] = node->subscribers.try_emplace(Av(client_id), std::move(entry));
    if (!inserted) it->second = std::move(entry);
    count_ += inserted;
    return inserted;
  }
  auto& members = node->groups[Av(group)].members;
  for (auto& m : members) {
    if (m.client_id == client_id) {
      m = std::move(entry);
      return false;
    }
  }
  members.push_back(std::move(entry));
  ++count_;
  return true;
}

bool SubscriptionTrie::Remove(std::string_view filter, std::string_view group,
                              std::string_view client_id) {
  std::vector<std::string_view> levels = Levels(filter);
  std::vector<Node*> path{root_.get()};
  for (std::string_view level : levels) {
    auto it = path.back()->children.find(Av(level));
    if (it == path.back()->children.end()) return false;
    path.push_back(it->second.get());
  }
  Node* node = path.back();
  bool removed = false;
  if (group.empty()) {
    removed = node->subscribers.erase(Av(client_id)) > 0;
  } else if (auto g = node->groups.find(Av(group)); g != node->groups.end()) {
    auto& members = g->second.members;
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].client_id == client_id) {
        members.erase(members.begin() + i);
        removed = true;
        break;
      }
    }
    if (members.empty()) node->groups.erase(g);
  }
  if (!removed) return false;
  --count_;
  // Prune nodes left empty, deepest first.
  for (size_t i = levels.size(); i > 0; --i) {
    if (!path[i]->Empty()) break;
    path[i - 1]->children.erase(Av(levels[i - 1]));
  }
  return true;
}

}  // namespace sluice::topic
