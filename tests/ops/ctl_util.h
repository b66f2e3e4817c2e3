// For tests that run sluicectl: where the binary is, and its -o json output parsed back into
// the admin API message it printed. Header-only; not thread-safe (test threads).
#pragma once

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace sluice::ops_test {

// $SLUICECTL (set by the test's BUILD rule), else the path in the runfiles.
inline std::string Sluicectl() {
  const char* p = std::getenv("SLUICECTL");
  return p && *p ? p : "tools/sluicectl/sluicectl";
}

// Parses sluicectl's -o json output into M; a parse failure fails the test (and M is empty).
template <typename M>
M ParseJson(const std::string& json) {
  M m;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << json;
  return m;
}

}  // namespace sluice::ops_test
