// Acl: publish/subscribe authorization rules, loaded from YAML:
//
//   default: deny                 # when no rule decides: allow | deny (default: deny)
//   rules:
//     - user: alice               # selectors, all optional, all must match:
//       client_id: dev-1          #   user / client_id / identity: exact ("*": any value),
//       identity: dev-1.example   #   anonymous: true (clients without a user name)
//       allow_publish: ["sensors/%u/#"]   # %u user name, %c client id
//       allow_subscribe: ["sensors/#"]
//       deny_publish: [...]
//       deny_subscribe: ["sensors/secret/#"]
//
// Decision for a client: the rules whose selectors match it are compiled once per
// connection (ForClient) with %u/%c substituted; a deny that applies wins over an allow,
// an allow wins over `default`. The order of rules and of filters never matters (there is
// no first match): the decision depends only on the sets of allow and deny filters. Publish: the topic matches a filter. Subscribe: allowed when
// an allow filter covers the requested filter (every topic it can match), denied when a deny
// filter overlaps it (some topic matches both) — so "sensors/#" is refused when
// "sensors/secret/#" is denied. A substitution whose value is empty or contains '/', '+' or
// '#' disables that filter (no wildcard injection through client ids).
//
// Speed: ForClient also indexes the client's four filter lists in tries (FilterIndex), so a
// PUBLISH check costs O(topic levels), not O(filters); see README.md for figures.
//
// Thread-safety: immutable after Parse; a ClientAcl from ForClient is immutable. Errors:
// Parse names the rule and key that are wrong.
#ifndef SLUICE_BROKER_AUTH_ACL_H_
#define SLUICE_BROKER_AUTH_ACL_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/auth/filter_index.h"

namespace sluice::auth {

// Every topic `filter` can match is matched by `pattern` (both valid filters).
bool FilterCovers(std::string_view pattern, std::string_view filter);
// Some topic is matched by both filters.
bool FiltersOverlap(std::string_view a, std::string_view b);

// The filters that apply to one client, %u/%c already substituted. The lists are the
// source of truth; Compile() builds the tries the checks use (ForClient calls it). Without
// Compile() — or after changing a list — the checks scan the lists linearly, with the same
// answers (kept for comparison in tests and the benchmark).
struct ClientAcl {
  bool default_allow = false;
  std::vector<std::string> allow_publish, deny_publish, allow_subscribe, deny_subscribe;

  bool CanPublish(std::string_view topic) const;
  // `filter` without any $share/GROUP/ prefix.
  bool CanSubscribe(std::string_view filter) const;

  // Builds the indexes from the four lists (replacing earlier ones). Not thread-safe.
  void Compile();
  // Discards the indexes: the checks scan the lists again.
  void Decompile() { index_.reset(); }
  bool indexed() const { return index_ != nullptr; }

 private:
  struct Index {
    FilterIndex allow_publish, deny_publish, allow_subscribe, deny_subscribe;
  };
  // Shared, so ClientAcl stays copyable; immutable once built.
  std::shared_ptr<const Index> index_;
};

class Acl {
 public:
  static absl::StatusOr<Acl> Parse(const std::string& yaml_text);
  static absl::StatusOr<Acl> Load(const std::string& path);

  // `user` and `identity` empty when absent.
  std::shared_ptr<const ClientAcl> ForClient(std::string_view user, std::string_view client_id,
                                             std::string_view identity) const;
  size_t rule_count() const { return rules_.size(); }

 private:
  struct Rule {
    std::optional<std::string> user, client_id, identity;
    bool anonymous = false;
    std::vector<std::string> allow_publish, deny_publish, allow_subscribe, deny_subscribe;
  };
  bool default_allow_ = false;
  std::vector<Rule> rules_;
};

}  // namespace sluice::auth

#endif  // SLUICE_BROKER_AUTH_ACL_H_
