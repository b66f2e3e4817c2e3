// Authentication (password file, sluice-passwd, mosquitto_passwd files, reload) and ACL rules
// (denied publishes and subscribes in 3.1.1 and 5.0, %u/%c, reload) against real sluiced.
#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

std::string Shell(const std::string& command, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string Passwd() { return Runfile("SLUICE_PASSWD"); }

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir("auth"); }
  // `reloads`: the broker logs to a file and serves metrics, for ReloadAndAwait.
  void StartBroker(std::vector<std::string> flags, bool reloads = false) {
    std::string error;
    if (reloads) flags.push_back("--metrics-listen=127.0.0.1:0");
    broker_ = Broker::Start(flags, &error, reloads ? dir_ + "/sluiced.log" : "");
    ASSERT_TRUE(broker_) << error;
  }
  uint8_t ConnectCode(Version v, const std::string& id, std::optional<std::string> user,
                      std::optional<std::string> password) {
    Client client(TcpWire(broker_->port()), v);
    Packet p = client.Connect(id, std::move(user), std::move(password));
    EXPECT_EQ(p.type, c::kConnack) << "no CONNACK for " << id;
    return p.reason;
  }
  std::string dir_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(AuthTest, PasswordFileChecksEveryUserName) {
  std::string file = dir_ + "/passwords";
  int rc = 0;
  Shell(Passwd() + " -c -i 1000 " + file + " alice s3cret", &rc);
  ASSERT_EQ(rc, 0);
  Shell("echo hunter2 | " + Passwd() + " -i 1000 " + file + " bob", &rc);  // from stdin
  ASSERT_EQ(rc, 0);
  StartBroker({"--password-file=" + file, "--allow-anonymous=false"});
  EXPECT_EQ(ConnectCode(kV5, "a1", "alice", "s3cret"), 0);
  EXPECT_EQ(ConnectCode(kV5, "b1", "bob", "hunter2"), 0);
  EXPECT_EQ(ConnectCode(kV5, "a2", "alice", "wrong"), 0x86);
  EXPECT_EQ(ConnectCode(kV311, "a3", "alice", "wrong"), 4);
  EXPECT_EQ(ConnectCode(kV5, "m1", "mallory", "s3cret"), 0x86);
  EXPECT_EQ(ConnectCode(kV5, "a4", "alice", std::nullopt), 0x86);
  EXPECT_EQ(ConnectCode(kV5, "anon", std::nullopt, std::nullopt), 0x87);
  EXPECT_EQ(ConnectCode(kV311, "anon", std::nullopt, std::nullopt), 4);
  // The successful check is cached; the cache must not confuse users or passwords.
  EXPECT_EQ(ConnectCode(kV5, "a5", "alice", "s3cret"), 0);
  EXPECT_EQ(ConnectCode(kV5, "b2", "bob", "s3cret"), 0x86);
}

TEST_F(AuthTest, AnonymousStillAllowedWhenConfigured) {
  std::string file = dir_ + "/passwords";
  int rc = 0;
  Shell(Passwd() + " -c -i 1000 " + file + " alice s3cret", &rc);
  StartBroker({"--password-file=" + file});
  EXPECT_EQ(ConnectCode(kV5, "anon", std::nullopt, std::nullopt), 0);
  EXPECT_EQ(ConnectCode(kV5, "a", "alice", "bad"), 0x86);
}

TEST_F(AuthTest, UsersChangeWithoutRestartOnSighup) {
  std::string file = dir_ + "/passwords";
  int rc = 0;
  Shell(Passwd() + " -c -i 1000 " + file + " alice one", &rc);
  StartBroker({"--password-file=" + file, "--allow-anonymous=false"}, /*reloads=*/true);
  EXPECT_EQ(ConnectCode(kV5, "a", "alice", "one"), 0);
  Shell(Passwd() + " -i 1000 " + file + " alice two", &rc);  // change
  ASSERT_EQ(rc, 0);
  Shell(Passwd() + " -i 1000 " + file + " carol three", &rc);  // add
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(ConnectCode(kV5, "c", "carol", "three"), 0x86) << "carol accepted before the reload";
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kAuthReloaded));
  EXPECT_EQ(ConnectCode(kV5, "c", "carol", "three"), 0);
  EXPECT_EQ(ConnectCode(kV5, "a", "alice", "one"), 0x86) << "old password (and its cache entry)";
  EXPECT_EQ(ConnectCode(kV5, "a", "alice", "two"), 0);
  Shell(Passwd() + " -D " + file + " carol", &rc);  // delete
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kAuthReloaded));
  EXPECT_EQ(ConnectCode(kV5, "c", "carol", "three"), 0x86);
  // A broken file on reload: the previous users stay.
  WriteFile(file, "garbage\n");
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kAuthReloadFailed));
  EXPECT_EQ(ConnectCode(kV5, "a", "alice", "two"), 0);
  EXPECT_EQ(ConnectCode(kV5, "c", "carol", "three"), 0x86);
}

TEST_F(AuthTest, MosquittoPasswdFilesWork) {
  if (std::system("command -v mosquitto_passwd >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "mosquitto_passwd not installed";
  std::string file = dir_ + "/mosq";
  int rc = 0;
  Shell("mosquitto_passwd -c -b " + file + " dave pw", &rc);
  ASSERT_EQ(rc, 0);
  StartBroker({"--password-file=" + file});
  EXPECT_EQ(ConnectCode(kV5, "d", "dave", "pw"), 0);
  EXPECT_EQ(ConnectCode(kV5, "d", "dave", "px"), 0x86);
}

TEST_F(AuthTest, PasswdToolRejectsBadInputWithClearErrors) {
  std::string file = dir_ + "/passwords";
  int rc = 0;
  std::string out = Shell(Passwd() + " " + file + " alice pw", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("does not exist (use -c"), std::string::npos) << out;
  out = Shell(Passwd() + " -c " + file + " al:ice pw", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("contains ':'"), std::string::npos) << out;
  out = Shell(Passwd() + " -c -i 5 " + file + " alice pw", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("iterations"), std::string::npos) << out;
  out = Shell(Passwd() + " -c -i 1000 " + file + " alice ''", &rc);
  EXPECT_EQ(rc, 1);
  out = Shell(Passwd() + " -c -i 1000 " + file + " alice pw", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = Shell(Passwd() + " -D " + file + " nobody", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no user 'nobody'"), std::string::npos) << out;
  out = Shell(Passwd() + " -U " + file, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("1 users"), std::string::npos) << out;
  WriteFile(dir_ + "/broken", "alice:$7$x$y$z\n");
  out = Shell(Passwd() + " -U " + dir_ + "/broken", &rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("line 1"), std::string::npos) << out;
  out = Shell(Passwd(), &rc);
  EXPECT_EQ(rc, 2);
  out = Shell(Passwd() + " -x " + file + " a b", &rc);
  EXPECT_EQ(rc, 2);
  // The broker refuses to start on a broken password file, naming it.
  std::string error;
  auto broker = Broker::Start({"--password-file=" + dir_ + "/broken"}, &error);
  EXPECT_FALSE(broker);
}

class AclTest : public AuthTest {
 protected:
  void StartWithAcl(const std::string& rules, std::vector<std::string> extra = {},
                    bool reloads = false) {
    acl_ = dir_ + "/acl.yaml";
    WriteFile(acl_, rules);
    extra.push_back("--acl-file=" + acl_);
    StartBroker(extra, reloads);
  }
  std::unique_ptr<Client> Connected(Version v, const std::string& id,
                                    std::optional<std::string> user = std::nullopt) {
    auto client = std::make_unique<Client>(TcpWire(broker_->port()), v);
    EXPECT_EQ(client->Connect(id, user, user ? std::optional<std::string>("pw") : std::nullopt)
                  .reason, 0);
    return client;
  }
  std::string acl_;
};

constexpr char kRules[] =
    "rules:\n"
    "  - user: \"*\"\n"
    "    allow_publish: [\"users/%u/#\", \"clients/%c\"]\n"
    "    allow_subscribe: [\"users/%u/#\", \"public/#\"]\n"
    "  - anonymous: true\n"
    "    allow_subscribe: [\"#\"]\n"
    "    deny_subscribe: [\"users/#\"]\n";

TEST_F(AclTest, DeniedPublishGets0x87In5AndIsDroppedIn311) {
  StartWithAcl(kRules);
  auto watcher = Connected(kV5, "watcher");  // anonymous: may see all but users/#
  EXPECT_EQ(watcher->SubscribeCodes({"clients/#", "other/#"}),
            (std::vector<uint8_t>{1, 1}));
  auto alice5 = Connected(kV5, "alice-5", "alice");
  alice5->Send(c::Publish(kV5, {.topic = "clients/alice-5", .payload = "ok", .qos = 1, .id = 1}));
  EXPECT_LT(alice5->ReadDecoded().reason, 0x80);
  EXPECT_EQ(watcher->ReadDecoded().payload, "ok");
  watcher->Send(c::Ack(kV5, c::kPuback, 1));
  alice5->Send(c::Publish(kV5, {.topic = "other/x", .payload = "no", .qos = 1, .id = 2}));
  Packet ack = alice5->ReadDecoded();
  EXPECT_EQ(ack.type, c::kPuback);
  EXPECT_EQ(ack.reason, 0x87);
  alice5->Send(c::Publish(kV5, {.topic = "other/x", .payload = "no", .qos = 2, .id = 3}));
  ack = alice5->ReadDecoded();
  EXPECT_EQ(ack.type, c::kPubrec);
  EXPECT_EQ(ack.reason, 0x87);
  auto alice3 = Connected(kV311, "alice-3", "alice");
  alice3->Send(c::Publish(kV311, {.topic = "other/x", .payload = "no", .qos = 1, .id = 4}));
  EXPECT_EQ(alice3->ReadDecoded().type, c::kPuback);  // acknowledged, dropped
  alice3->Send(c::Publish(kV311, {.topic = "other/x", .payload = "no"}));
  // %c: alice-3 may not publish as alice-5.
  alice3->Send(c::Publish(kV311, {.topic = "clients/alice-5", .payload = "no"}));
  Bytes none = watcher->Read(400ms);
  EXPECT_TRUE(none.empty()) << "a denied publish was delivered";
}

TEST_F(AclTest, DeniedSubscribeGets0x87In5And0x80In311) {
  StartWithAcl(kRules, {"--deny-subscribe=test/nosubscribe"});
  auto bob5 = Connected(kV5, "bob-5", "bob");
  EXPECT_EQ(bob5->SubscribeCodes({"users/bob/#", "users/alice/#", "users/#", "public/a",
                                   "test/nosubscribe", "$share/g/users/bob/x"}),
            (std::vector<uint8_t>{1, 0x87, 0x87, 1, 0x87, 1}));
  auto bob3 = Connected(kV311, "bob-3", "bob");
  EXPECT_EQ(bob3->SubscribeCodes({"users/alice/#", "users/bob/x"}),
            (std::vector<uint8_t>{0x80, 1}));
  // Anonymous: "#" overlaps the denied users/#, so it is refused as a whole.
  auto anon = Connected(kV5, "anon");
  EXPECT_EQ(anon->SubscribeCodes({"#", "public/#", "users/bob/x"}),
            (std::vector<uint8_t>{0x87, 1, 0x87}));
}

TEST_F(AclTest, RulesReloadOnSighupForConnectedClients) {
  StartWithAcl(kRules, {}, /*reloads=*/true);
  auto bob = Connected(kV5, "bob", "bob");
  EXPECT_EQ(bob->SubscribeCodes({"news/#"}), (std::vector<uint8_t>{0x87}));
  WriteFile(acl_, std::string(kRules) + "  - user: bob\n    allow_subscribe: [\"news/#\"]\n");
  EXPECT_EQ(bob->SubscribeCodes({"news/b"}), (std::vector<uint8_t>{0x87})) << "before the reload";
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kAuthReloaded));
  EXPECT_EQ(bob->SubscribeCodes({"news/#"}), (std::vector<uint8_t>{1}));
  // A broken ACL on reload: the previous rules stay.
  WriteFile(acl_, "rules: [\n");
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kAuthReloadFailed));
  EXPECT_EQ(bob->SubscribeCodes({"news/a"}), (std::vector<uint8_t>{1}));
  EXPECT_EQ(bob->SubscribeCodes({"secret"}), (std::vector<uint8_t>{0x87}));
}

}  // namespace
}  // namespace sluice::security_test
