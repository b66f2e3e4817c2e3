// The fault-injecting file system itself: unsynced writes are gone after a "crash", synced
// ones stay.
#include "storage/testing/fault_injection_env.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"

namespace sluice::storage::testing {
namespace {

void DropsUnsyncedWritesOnly(std::shared_ptr<rocksdb::FileSystem> base, const std::string& dir) {
  auto fs = std::make_shared<FaultInjectionFs>(std::move(base));
  std::unique_ptr<rocksdb::Env> env = NewFaultInjectionEnv(fs);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.env = env.get();
  rocksdb::WriteOptions nosync, sync;
  sync.sync = true;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(nosync, "a", "1").ok());
    ASSERT_TRUE(db->Put(sync, "b", "2").ok());  // syncs the WAL, "a" included
    ASSERT_TRUE(db->Put(nosync, "c", "3").ok());
    ASSERT_TRUE(db->Put(nosync, "d", std::string(10'000, 'd')).ok());
    fs->Crash();
    db.reset();  // whatever the shutdown writes is lost too
  }
  EXPECT_GT(fs->DropUnsyncedData(), 10'000u);
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string v;
  EXPECT_TRUE(db->Get({}, "a", &v).ok());
  EXPECT_TRUE(db->Get({}, "b", &v).ok());
  EXPECT_TRUE(db->Get({}, "c", &v).IsNotFound());
  EXPECT_TRUE(db->Get({}, "d", &v).IsNotFound());
}

TEST(FaultInjectionFsTest, DropsUnsyncedWritesOnly) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(tmp ? tmp : "/tmp") + "/fault_fs_db";
  std::filesystem::remove_all(dir);
  DropsUnsyncedWritesOnly(rocksdb::FileSystem::Default(), dir);
}

// The simulator's disk: the same on RocksDB's in-memory file system.
TEST(FaultInjectionFsTest, DropsUnsyncedWritesOnlyInMemory) {
  std::unique_ptr<rocksdb::Env> mem(rocksdb::NewMemEnv(rocksdb::Env::Default()));
  DropsUnsyncedWritesOnly(mem->GetFileSystem(), "/mem/fault_fs_db");
  EXPECT_FALSE(std::filesystem::exists("/mem"));  // nothing reached the real file system
}

}  // namespace
}  // namespace sluice::storage::testing
