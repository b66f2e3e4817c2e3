// ACL micro benchmark: checks per second of ClientAcl::CanPublish / CanSubscribe with N
// filters per client, scanning the lists (linear) against the FilterIndex tries (indexed).
//
//   bazel run -c opt //broker/auth:acl_bench [-- N1 N2 ...]    default N: 10 1000 10000
//
// The rule shape is a per-device layout: N allow filters "site/<i>/+/telemetry/#" and N/10
// deny filters "site/<i>/secret/#"; the queried topics and filters hit random sites, so most
// checks are allowed (the linear scan's worst case is a late or missing match).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/rng.h"
#include "broker/auth/acl.h"

namespace {

using sluice::auth::ClientAcl;
using Clock = std::chrono::steady_clock;


ClientAcl MakeAcl(int n) {
  ClientAcl acl;
  for (int i = 0; i < n; ++i) {
    acl.allow_publish.push_back("site/" + std::to_string(i) + "/+/telemetry/#");
    acl.allow_subscribe.push_back("site/" + std::to_string(i) + "/+/telemetry/#");
    if (i % 10 == 0) {
      acl.deny_publish.push_back("site/" + std::to_string(i) + "/secret/#");
      acl.deny_subscribe.push_back("site/" + std::to_string(i) + "/secret/#");
    }
  }
  return acl;
}

// Runs `check` over `inputs` for at least `min_ms`; returns checks per second. `*allowed`
// counts the allowed answers (also keeps the calls from being optimised away).
template <typename F>
double Rate(const std::vector<std::string>& inputs, F check, int64_t min_ms, uint64_t* allowed) {
  uint64_t checks = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::milliseconds(min_ms);
  while (Clock::now() < deadline) {
    for (const auto& in : inputs) *allowed += check(in) ? 1 : 0;
    checks += inputs.size();
  }
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(checks) / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10, 1000, 10000};
  std::printf("%8s  %-9s  %16s  %16s  %8s\n", "filters", "check", "linear checks/s",
              "indexed checks/s", "speedup");
  for (int n : sizes) {
    ClientAcl linear = MakeAcl(n);
    ClientAcl indexed = linear;
    indexed.Compile();
    sluice::SeededRng rng(static_cast<uint64_t>(n));
    std::vector<std::string> topics, filters;
    for (int i = 0; i < 1000; ++i) {
      std::string site = "site/" + std::to_string(rng.Next() % (n + n / 10 + 1));
      topics.push_back(site + (i % 10 == 0 ? "/secret/k" : "/dev" + std::to_string(i)) +
                       "/telemetry/temp");
      filters.push_back(site + (i % 2 ? "/+/telemetry/#" : "/dev7/telemetry/temp"));
    }
    uint64_t allowed_linear = 0, allowed_indexed = 0;
    // Short runs for the slow linear scans over many filters.
    const int64_t ms = 300;
    double pub_lin = Rate(topics, [&](const std::string& t) { return linear.CanPublish(t); }, ms,
                          &allowed_linear);
    double pub_idx = Rate(topics, [&](const std::string& t) { return indexed.CanPublish(t); },
                          ms, &allowed_indexed);
    std::printf("%8d  %-9s  %16.0f  %16.0f  %7.1fx\n", n, "publish", pub_lin, pub_idx,
                pub_idx / pub_lin);
    double sub_lin = Rate(filters, [&](const std::string& f) { return linear.CanSubscribe(f); },
                          ms, &allowed_linear);
    double sub_idx = Rate(
        filters, [&](const std::string& f) { return indexed.CanSubscribe(f); }, ms,
        &allowed_indexed);
    std::printf("%8d  %-9s  %16.0f  %16.0f  %7.1fx\n", n, "subscribe", sub_lin, sub_idx,
                sub_idx / sub_lin);
    // Same answers both ways (a cheap sanity check of the benchmark itself).
    for (const auto& t : topics)
      if (linear.CanPublish(t) != indexed.CanPublish(t)) {
        std::fprintf(stderr, "MISMATCH on publish %s\n", t.c_str());
        return 1;
      }
    for (const auto& f : filters)
      if (linear.CanSubscribe(f) != indexed.CanSubscribe(f)) {
        std::fprintf(stderr, "MISMATCH on subscribe %s\n", f.c_str());
        return 1;
      }
  }
  return 0;
}
