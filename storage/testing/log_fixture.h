// Test helpers for the commit log: a fresh directory under TEST_TMPDIR per test, options with
// a fast Raft tick, and a record builder. Test-only.
#ifndef SLUICE_STORAGE_TESTING_LOG_FIXTURE_H_
#define SLUICE_STORAGE_TESTING_LOG_FIXTURE_H_

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "storage/log/partitioned_log.h"

namespace sluice::storage::testing {

// A fresh, empty directory named after the running test.
inline std::string TestDir(const std::string& suffix = "") {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/storage_" + info->test_suite_name() +
                    "_" + info->name() + suffix;
  std::filesystem::remove_all(dir);
  return dir;
}

inline PartitionedLogOptions TestOptions(const std::string& dir, uint32_t partitions = 4) {
  PartitionedLogOptions o;
  o.dir = dir;
  o.partitions = partitions;
  o.tick_ms = 10;
  o.retention = {};
  return o;
}

inline Record MakeRecord(std::string topic, std::string payload, int64_t ts_ms = 0) {
  Record r;
  r.topic = std::move(topic);
  r.payload = std::move(payload);
  r.qos = 1;
  r.timestamp_ms = ts_ms;
  r.publisher = "client-1";
  r.properties = std::string("\x01\x01", 2);  // payload format indicator = 1
  return r;
}

}  // namespace sluice::storage::testing

#endif  // SLUICE_STORAGE_TESTING_LOG_FIXTURE_H_
