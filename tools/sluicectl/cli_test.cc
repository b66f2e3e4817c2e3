#include "tools/sluicectl/cli.h"

#include <sstream>

#include "gtest/gtest.h"

namespace sluice::ctl {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"server", "s", false, false, "HOST:PORT", ""},
    {"all", "", true, false, "", ""},
    {"set", "", false, true, "KEY=VALUE", ""},
};

TEST(ParseArgs, FlagsAnywhereBothSyntaxes) {
  ParsedArgs a;
  std::string error;
  ASSERT_TRUE(ParseArgs({"x", "--server", "h:1", "--all", "y", "-s=h:2", "--set=a=1", "--set", "b=2"},
                        kSpecs, &a, &error))
      << error;
  EXPECT_EQ(a.positional, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(a.Get("server"), "h:2");
  EXPECT_TRUE(a.Has("all"));
  EXPECT_EQ(a.flags["set"], (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(ParseArgs, Errors) {
  ParsedArgs a;
  std::string error;
  EXPECT_FALSE(ParseArgs({"--nope"}, kSpecs, &a, &error));
  EXPECT_EQ(error, "unknown flag '--nope'");
  EXPECT_FALSE(ParseArgs({"--server"}, kSpecs, &a, &error));
  EXPECT_NE(error.find("needs a value"), std::string::npos);
  EXPECT_FALSE(ParseArgs({"--all=maybe"}, kSpecs, &a, &error));
}

TEST(ParseArgs, DoubleDashEndsFlags) {
  ParsedArgs a;
  std::string error;
  ASSERT_TRUE(ParseArgs({"--", "--all"}, kSpecs, &a, &error));
  EXPECT_EQ(a.positional, (std::vector<std::string>{"--all"}));
  EXPECT_FALSE(a.Has("all"));
}

TEST(Format, TableDurationPayload) {
  std::ostringstream os;
  PrintTable(os, {"A", "BB"}, {{"xxx", "1"}});
  EXPECT_EQ(os.str(), "A    BB\nxxx  1\n");
  EXPECT_EQ(HumanDuration(3725), "1h2m5s");
  EXPECT_EQ(HumanDuration(5), "5s");
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(20ull << 20), "20.0 MiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(PayloadPreview("hi"), "\"hi\"");
  EXPECT_EQ(PayloadPreview(std::string("\x01\x02", 2)), "<2 bytes>");
  unsigned long long v;
  EXPECT_TRUE(ParseUint("10", 1, 100, &v));
  EXPECT_FALSE(ParseUint("0", 1, 100, &v));
  EXPECT_FALSE(ParseUint("-1", 0, 100, &v));
  EXPECT_FALSE(ParseUint("1x", 0, 100, &v));
}

}  // namespace
}  // namespace sluice::ctl
