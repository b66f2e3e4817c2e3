#include "broker/daemon_config.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

struct Settings {
  std::string data_dir = "./data";
  int64_t threads = 0;
};

class DaemonConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<DaemonArgs> Parse(const std::string& yaml, std::vector<std::string> flags = {}) {
    path_ = std::string(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp") +
            "/daemon_config_test.yaml";
    std::ofstream(path_) << yaml;
    schema_ = std::make_unique<ConfigSchema>("sluiced", "");
    schema_->AddString("data_dir", &s_.data_dir, "");
    schema_->AddInt("threads", &s_.threads, 0, 256, "");
    std::vector<std::string> args = {"sluiced", "--config", path_};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return ParseDaemonArgs(schema_.get(), static_cast<int>(argv.size()), argv.data());
  }
  std::string path_;
  Settings s_;
  std::unique_ptr<ConfigSchema> schema_;
};

TEST_F(DaemonConfigTest, BridgeSectionGoesToTheBridge) {
  auto r = Parse(
      "data_dir: /var/lib/sluice\n"
      "bridge:\n"
      "  kafka: {bootstrap_servers: \"k1:9092\"}\n"
      "  mqtt_to_kafka:\n"
      "    - {name: t, filters: [\"a/#\"], kafka_topic: t}\n"
      "threads: 3\n",
      {"--threads=4"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->parsed.config_path, path_);
  EXPECT_EQ(s_.data_dir, "/var/lib/sluice");
  EXPECT_EQ(s_.threads, 4);  // flags still override the file
  ASSERT_EQ(r->bridge.mqtt_to_kafka.size(), 1u);
  EXPECT_EQ(r->bridge.kafka.bootstrap_servers, "k1:9092");
  EXPECT_NE(r->bridge_yaml.find("k1:9092"), std::string::npos);
}

TEST_F(DaemonConfigTest, NoBridgeSection) {
  auto r = Parse("threads: 2\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->bridge.empty());
  EXPECT_EQ(r->bridge_yaml, "");
  EXPECT_EQ(s_.threads, 2);
  auto only = Parse("bridge: {}\n");
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_TRUE(only->bridge.empty());
}

TEST_F(DaemonConfigTest, Errors) {
  auto bad = Parse("bridge:\n  kafka: {bootstrap_server: x}\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path_ + ": bridge.kafka.bootstrap_server: unknown key"),
            std::string::npos)
      << bad.status();
  auto broker_key = Parse("bridge: {}\nthreadz: 1\n");
  ASSERT_FALSE(broker_key.ok());
  EXPECT_NE(broker_key.status().message().find("unknown setting 'threadz'"), std::string::npos)
      << broker_key.status();
  auto range = Parse("threads: 1000\n");
  EXPECT_FALSE(range.ok());
  auto yaml = Parse("bridge: [\n");
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.status().message().find("not valid YAML"), std::string::npos) << yaml.status();
}

TEST_F(DaemonConfigTest, HelpAndMissingFile) {
  ConfigSchema schema("sluiced", "");
  const char* help[] = {"sluiced", "--config", "/nonexistent.yaml", "--help"};
  auto r = ParseDaemonArgs(&schema, 4, help);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->parsed.help_requested);
  const char* missing[] = {"sluiced", "--config=/nonexistent.yaml"};
  EXPECT_EQ(ParseDaemonArgs(&schema, 2, missing).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::broker
