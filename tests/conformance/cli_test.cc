// sluiced's command line (README "Running sluiced"): `--help` lists every setting, and a bad
// value, an unknown flag or a stray argument stops it before it listens, with exit code 2 and
// a message naming the flag.
//
// The settings --help must list come from the broker's own registration
// (BrokerConfig::Register, the one sluiced_main uses), so a setting added there and missing
// from the help text fails this test; the help text comes from running the real binary.
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/config.h"
#include "broker/server/broker_config.h"
#include "tests/conformance/harness.h"

namespace sluice::conformance {
namespace {

std::string TmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

std::string Sluiced() {
  const char* path = std::getenv("SLUICED");
  return path && *path ? path : "broker/sluiced";
}

// Flag names (without "--") of every setting the broker registers.
std::set<std::string> RegisteredFlags() {
  broker::BrokerConfig config;
  ConfigSchema schema("sluiced", "");
  config.Register(&schema);
  std::set<std::string> flags;
  std::istringstream dump(schema.Dump());  // "key: value" per setting
  for (std::string line; std::getline(dump, line);) {
    std::string key = line.substr(0, line.find(':'));
    for (char& c : key)
      if (c == '_') c = '-';
    flags.insert(key);
  }
  return flags;
}

struct RunResult {
  int status = -1;
  std::string out, err;
};

// Runs sluiced with `args` (after flags that keep a wrongly started broker harmless: a free
// loopback port, a scratch data dir, no ops listeners) and waits for it to exit.
RunResult RunSluiced(const std::vector<std::string>& args, bool safe_prefix = true) {
  static std::atomic<int> counter{0};
  std::string tag = std::to_string(counter++);
  ChildProcess::Options options;
  options.argv = {Sluiced()};
  if (safe_prefix) {
    options.argv.insert(options.argv.end(),
                        {"--listen=127.0.0.1:0", "--data-dir=" + TmpDir() + "/cli-data-" + tag,
                         "--admin-listen=", "--metrics-listen="});
  }
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.capture_stdout = true;
  options.stderr_path = TmpDir() + "/cli-stderr-" + tag;
  std::string error;
  auto child = ChildProcess::Spawn(options, &error);
  RunResult run;
  if (!child) {
    ADD_FAILURE() << error;
    return run;
  }
  while (auto line = child->ReadLine(kTimeout)) run.out += *line + "\n";  // until EOF
  auto status = child->Wait(kTimeout);
  if (!status) {
    ADD_FAILURE() << "sluiced still running after its output ended: it should have exited";
    run.status = child->Stop(SIGKILL, kTimeout);
  } else {
    run.status = *status;
  }
  std::ifstream err(options.stderr_path);
  std::ostringstream text;
  text << err.rdbuf();
  run.err = text.str();
  return run;
}

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

TEST(CliTest, HelpListsEverySetting) {
  if (UnderMosquitto()) GTEST_SKIP() << "sluiced's command line";
  RunResult run = RunSluiced({"--help"}, /*safe_prefix=*/false);
  ASSERT_TRUE(ExitedWith(run.status, 0)) << DescribeStatus(run.status) << "\n" << run.err;
  // Entries: "  --name=TYPE" (or "  --name[=true|false]", "  --name FILE"), then indented text.
  std::map<std::string, std::string> entries;
  std::string current;
  std::istringstream out(run.out);
  for (std::string line; std::getline(out, line);) {
    if (line.rfind("  --", 0) == 0) {
      current = line.substr(4, line.find_first_of("=[ ", 4) - 4);
      EXPECT_FALSE(entries.count(current)) << "--" << current << " listed twice";
      entries[current];
    } else if (!current.empty()) {
      entries[current] += line + "\n";
    }
  }
  const std::set<std::string> registered = RegisteredFlags();
  ASSERT_GT(registered.size(), 40u) << "the registration read here looks truncated";
  for (const std::string& flag : registered) {
    auto it = entries.find(flag);
    if (it == entries.end()) {
      ADD_FAILURE() << "setting --" << flag << " is registered but missing from --help";
      continue;
    }
    EXPECT_NE(it->second.find("(default: "), std::string::npos)
        << "--" << flag << " has no default in --help:\n" << it->second;
    EXPECT_GT(it->second.size(), 20u) << "--" << flag << " has no description";
  }
  for (const auto& [flag, text] : entries) {
    EXPECT_TRUE(registered.count(flag) || flag == "config" || flag == "help")
        << "--help lists --" << flag << ", which is no setting";
  }
  EXPECT_TRUE(entries.count("config") && entries.count("help"));
  EXPECT_EQ(run.err, "") << "--help writes to stdout only";
}

TEST(CliTest, BadValuesAndUnknownFlagsExit2NamingTheFlag) {
  if (UnderMosquitto()) GTEST_SKIP() << "sluiced's command line";
  std::string yaml = TmpDir() + "/cli-unknown-key.yaml";
  std::ofstream(yaml) << "max_inflight: 10\nno_such_key: 1\n";
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> message;  // all must appear on stderr
  };
  const std::vector<Case> cases = {
      {{"--max-inflight=0"}, {"--max-inflight", "'0'", "an integer from 1 to 65535"}},
      {{"--max-keep-alive", "70000"}, {"--max-keep-alive", "'70000'", "0 to 65535"}},
      {{"--receive-maximum=lots"}, {"--receive-maximum", "'lots'", "integer"}},
      {{"--shared-subscription-strategy=fair"},
       {"--shared-subscription-strategy", "'fair'", "round_robin, random"}},
      {{"--allow-anonymous=maybe"}, {"--allow-anonymous", "'maybe'", "true or false"}},
      {{"--listen=nowhere"}, {"'nowhere'", "listen", "HOST:PORT"}},
      {{"--deny-subscribe=a/#/b"}, {"'a/#/b'", "deny"}},
      {{"--no-such-setting=1"}, {"unknown flag --no-such-setting"}},
      {{"--no-max-inflight"}, {"unknown flag --no-max-inflight"}},  // --no- is for booleans
      {{"stray"}, {"unexpected argument 'stray'"}},
      {{"--max-keep-alive"}, {"--max-keep-alive", "needs a value"}},
      {{"--config", yaml}, {yaml, "unknown setting 'no_such_key'"}},
      {{"--config", TmpDir() + "/cli-missing.yaml"}, {"cli-missing.yaml", "cannot open"}},
  };
  for (const Case& c : cases) {
    std::string cmd;
    for (const std::string& a : c.args) cmd += " " + a;
    SCOPED_TRACE("sluiced" + cmd);
    RunResult run = RunSluiced(c.args);
    EXPECT_TRUE(ExitedWith(run.status, 2)) << DescribeStatus(run.status) << "\n" << run.err;
    EXPECT_EQ(run.err.rfind("sluiced: ", 0), 0u) << run.err;
    for (const std::string& m : c.message)
      EXPECT_NE(run.err.find(m), std::string::npos) << "stderr lacks \"" << m << "\": " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << "one line: " << run.err;
    EXPECT_EQ(run.out, "") << "nothing on stdout";
  }
}

TEST(CliTest, GoodFlagsStartTheBroker) {
  // The control for the test above: the same prefix with valid values does start (and is
  // stopped by the harness), so exit code 2 there came from the bad flag alone.
  if (UnderMosquitto()) GTEST_SKIP() << "sluiced's command line";
  std::string error;
  bool unsupported = false;
  auto broker = BrokerProcess::Start(
      {"--max-inflight=1", "--max-keep-alive=65535", "--receive-maximum=7",
       "--shared-subscription-strategy=random", "--allow-anonymous=true",
       "--deny-subscribe=a/+/b", "--no-allow-anonymous"},
      &error, &unsupported);
  ASSERT_NE(broker, nullptr) << error;
  int status = broker->Stop();
  EXPECT_TRUE(ExitedWith(status, 0)) << DescribeStatus(status);
}

}  // namespace
}  // namespace sluice::conformance
