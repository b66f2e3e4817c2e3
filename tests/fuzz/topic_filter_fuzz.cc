// libFuzzer target for topic names and filters: validation, $share parsing, matching, and
// the ACL's filter algebra (broker/auth). The input is split at its first NUL into a filter
// and a topic name. Checked properties: valid filters parse; a filter without wildcards
// matches exactly the equal name; FilterCovers(p, f) with Matches(f, n) implies Matches(p, n);
// Matches(a, n) and Matches(b, n) imply FiltersOverlap(a, b); every filter covers itself.
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "broker/auth/acl.h"
#include "mqtt/topic/topic.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Relative corpus paths under `bazel run` (see README).
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) SLUICE_CHECK(chdir(dir) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view a = in.substr(0, nul);
  std::string_view rest = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  size_t nul2 = rest.find('\0');
  std::string_view b = rest.substr(0, nul2);
  std::string_view name = nul2 == std::string_view::npos ? b : rest.substr(nul2 + 1);

  topic::ParsedFilter parsed;
  const bool a_filter = topic::IsValidTopicFilter(a);
  const bool b_filter = topic::IsValidTopicFilter(b);
  const bool is_name = topic::IsValidTopicName(name);
  topic::ParseFilter(a, &parsed);
  topic::HasWildcard(a);
  if (a_filter) {
    SLUICE_CHECK(auth::FilterCovers(a, a));
    SLUICE_CHECK(auth::FiltersOverlap(a, a));
  }
  if (a_filter && is_name && !topic::HasWildcard(a)) SLUICE_CHECK(topic::Matches(a, name) == (a == name));
  if (a_filter && b_filter && is_name) {
    const bool ma = topic::Matches(a, name), mb = topic::Matches(b, name);
    if (auth::FilterCovers(a, b) && mb) SLUICE_CHECK(ma);
    if (ma && mb) SLUICE_CHECK(auth::FiltersOverlap(a, b));
    SLUICE_CHECK(auth::FiltersOverlap(a, b) == auth::FiltersOverlap(b, a));
  }
  return 0;
}
