#include "base/config.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace sluice {
namespace {

struct Settings {
  std::string listen = "0.0.0.0:1883";
  std::string data_dir = "./data";
  int64_t max_inflight = 20;
  bool allow_anonymous = true;
  std::vector<std::string> deny = {};
  std::string level = "info";
  int64_t packet_max = 1000;
};

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    schema_.AddString("listen", &s_.listen, "Address.");
    schema_.AddString("data_dir", &s_.data_dir, "Data.");
    schema_.AddInt("max_inflight", &s_.max_inflight, 1, 65535, "Window.");
    schema_.AddBool("allow_anonymous", &s_.allow_anonymous, "Anon.");
    schema_.AddStringList("deny", &s_.deny, "Deny.");
    schema_.AddEnum("log_level", &s_.level, {"debug", "info"}, "Level.");
    schema_.AddInt("limits.max_packet_size", &s_.packet_max, 1, 1 << 20, "Size.");
  }
  Settings s_;
  ConfigSchema schema_{"prog", "summary"};
};

TEST_F(ConfigTest, YamlThenFlagsOverride) {
  std::string path = ::testing::TempDir() + "/c.yaml";
  std::ofstream(path) << "listen: 127.0.0.1:1\nmax_inflight: 5\nlimits:\n  max_packet_size: 77\n"
                         "deny: [a/b, c/#]\n";
  const char* argv[] = {"prog", "--config", path.c_str(), "--max-inflight=9", "--no-allow-anonymous"};
  auto r = schema_.ParseArgs(5, argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(s_.listen, "127.0.0.1:1");
  EXPECT_EQ(s_.max_inflight, 9);
  EXPECT_EQ(s_.packet_max, 77);
  EXPECT_FALSE(s_.allow_anonymous);
  EXPECT_EQ(s_.deny, (std::vector<std::string>{"a/b", "c/#"}));
}

TEST_F(ConfigTest, NestedKeyAsFlag) {
  const char* argv[] = {"prog", "--limits.max-packet-size", "12"};
  ASSERT_TRUE(schema_.ParseArgs(3, argv).ok());
  EXPECT_EQ(s_.packet_max, 12);
}

TEST_F(ConfigTest, UnknownFlagIsAnError) {
  const char* argv[] = {"prog", "--listne=1"};
  auto r = schema_.ParseArgs(2, argv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown flag --listne"), std::string::npos);
}

TEST_F(ConfigTest, UnknownYamlKeyIsAnError) {
  auto st = schema_.LoadYamlString("listen: x\nbogus: 1\n", "f.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown setting 'bogus'"), std::string::npos);
}

TEST_F(ConfigTest, OutOfRangeAndWrongTypeNameTheKey) {
  auto st = schema_.LoadYamlString("max_inflight: 0\n");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_inflight"), std::string::npos);
  EXPECT_NE(st.message().find("from 1 to 65535"), std::string::npos);
  EXPECT_FALSE(schema_.LoadYamlString("max_inflight: many\n").ok());
  EXPECT_FALSE(schema_.LoadYamlString("allow_anonymous: perhaps\n").ok());
  EXPECT_FALSE(schema_.LoadYamlString("log_level: loud\n").ok());
  EXPECT_FALSE(schema_.LoadYamlString("listen: [a, b]\n").ok());
  EXPECT_FALSE(schema_.LoadYamlString("listen: {{\n").ok());
}

TEST_F(ConfigTest, MissingFileAndMissingValue) {
  const char* argv[] = {"prog", "--config", "/nonexistent/x.yaml"};
  EXPECT_EQ(schema_.ParseArgs(3, argv).status().code(), absl::StatusCode::kNotFound);
  const char* argv2[] = {"prog", "--listen"};
  EXPECT_FALSE(schema_.ParseArgs(2, argv2).ok());
}

TEST_F(ConfigTest, HelpListsEveryFlag) {
  const char* argv[] = {"prog", "--help"};
  auto r = schema_.ParseArgs(2, argv);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help_requested);
  std::string usage = schema_.Usage();
  for (const char* f : {"--listen", "--data-dir", "--max-inflight", "--allow-anonymous", "--deny",
                        "--log-level", "--limits.max-packet-size", "--config"})
    EXPECT_NE(usage.find(f), std::string::npos) << f;
}

TEST_F(ConfigTest, ValidatorRuns) {
  schema_.AddValidator([this]() -> absl::Status {
    if (s_.listen.find(':') == std::string::npos)
      return absl::InvalidArgumentError("listen: expected HOST:PORT");
    return absl::OkStatus();
  });
  const char* argv[] = {"prog", "--listen=nohost"};
  auto r = schema_.ParseArgs(2, argv);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("HOST:PORT"), std::string::npos);
}

}  // namespace
}  // namespace sluice
