#include <gtest/gtest.h>

#include "broker/auth/acl.h"
#include "broker/auth/password_file.h"

namespace sluice::auth {
namespace {

TEST(PasswordFile, SetVerifySerializeParse) {
  PasswordFile f;
  ASSERT_TRUE(f.Set("alice", "s3cret", 1000).ok());
  ASSERT_TRUE(f.Set("bob", "hunter2", 1000).ok());
  EXPECT_TRUE(f.Verify("alice", "s3cret"));
  EXPECT_FALSE(f.Verify("alice", "s3cret "));
  EXPECT_FALSE(f.Verify("alice", ""));
  EXPECT_FALSE(f.Verify("carol", "s3cret"));
  auto parsed = PasswordFile::Parse("# users\n\n" + f.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 2u);
  EXPECT_TRUE(parsed->Verify("bob", "hunter2"));
  // A fresh salt every time: the same password hashes differently.
  PasswordFile g;
  ASSERT_TRUE(g.Set("alice", "s3cret", 1000).ok());
  EXPECT_NE(f.Serialize().substr(0, 60), g.Serialize().substr(0, 60));
  EXPECT_TRUE(f.Remove("alice"));
  EXPECT_FALSE(f.Remove("alice"));
  EXPECT_FALSE(f.HasUser("alice"));
}

TEST(PasswordFile, ReadsMosquittoPasswdFormat) {
  // Made by `mosquitto_passwd -b file user password` (Mosquitto 2.0.11): 101 iterations.
  auto f = PasswordFile::Parse("user:$7$101$TvOyWKZqTIuNkO0J$0C501LMRic6D+ciJAzdVZxrYpWvQou13UPhl0BNXESMgxbh+TuBFK6xaCg/se3z0o9tcFvSvQ7oV1mv4ILaqAw==\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->Verify("user", "password"));
  EXPECT_FALSE(f->Verify("user", "Password"));
}

TEST(PasswordFile, RejectsBadLinesNamingThem) {
  for (const char* text : {"nocolon\n", "u:$6$1$abcd$efgh\n", "u:$7$0$YWJj$YWJj\n",
                           "u:$7$10$!!!!$YWJj\n", "u:$7$10$YWJj$YWJj\n", ":$7$10$YWJj$YWJj\n"}) {
    auto f = PasswordFile::Parse(std::string("# ok\n") + text);
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_NE(std::string(f.status().message()).find("line 2"), std::string::npos)
        << f.status();
  }
  PasswordFile f;
  EXPECT_FALSE(f.Set("a:b", "x", 1000).ok());
  EXPECT_FALSE(f.Set("a", "", 1000).ok());
  EXPECT_FALSE(f.Set("a", "x", 10).ok());
  EXPECT_FALSE(f.Set("a\n", "x", 1000).ok());
}

TEST(AclFilters, CoversAndOverlaps) {
  EXPECT_TRUE(FilterCovers("#", "a/b"));
  EXPECT_TRUE(FilterCovers("a/#", "a"));
  EXPECT_TRUE(FilterCovers("a/#", "a/+/c"));
  EXPECT_TRUE(FilterCovers("a/+", "a/+"));
  EXPECT_TRUE(FilterCovers("a/+/c", "a/b/c"));
  EXPECT_FALSE(FilterCovers("a/+", "a/#"));
  EXPECT_FALSE(FilterCovers("a/b", "a/+"));
  EXPECT_FALSE(FilterCovers("a/+", "a/b/c"));
  EXPECT_FALSE(FilterCovers("#", "$SYS/x"));
  EXPECT_FALSE(FilterCovers("+/x", "$SYS/x"));
  EXPECT_TRUE(FilterCovers("$SYS/#", "$SYS/x"));

  EXPECT_TRUE(FiltersOverlap("a/secret/#", "a/#"));
  EXPECT_TRUE(FiltersOverlap("a/secret/#", "#"));
  EXPECT_TRUE(FiltersOverlap("a/+/c", "a/b/+"));
  EXPECT_TRUE(FiltersOverlap("a", "a/#"));
  EXPECT_TRUE(FiltersOverlap("+", "a"));
  EXPECT_FALSE(FiltersOverlap("a/b", "a/c"));
  EXPECT_FALSE(FiltersOverlap("a/b", "a/b/c"));
  EXPECT_FALSE(FiltersOverlap("a/+", "a/b/c"));
  EXPECT_FALSE(FiltersOverlap("#", "$SYS/#"));
  EXPECT_TRUE(FiltersOverlap("$SYS/#", "$SYS/+/x"));
}

TEST(Acl, RulesSelectorsSubstitutionAndDenyWins) {
  auto acl = Acl::Parse(R"(
default: deny
rules:
  - user: "*"
    allow_publish: ["users/%u/#"]
    allow_subscribe: ["users/%u/#", "public/#"]
  - client_id: gateway
    allow_publish: ["devices/%c/+"]
  - user: admin
    allow_subscribe: ["#"]
    deny_subscribe: ["secret/#"]
  - anonymous: true
    allow_subscribe: ["public/#"]
    deny_subscribe: ["public/private/#"]
  - identity: cam-1
    allow_publish: ["cams/cam-1"]
)");
  ASSERT_TRUE(acl.ok()) << acl.status();
  auto alice = acl->ForClient("alice", "phone", "");
  EXPECT_TRUE(alice->CanPublish("users/alice/x"));
  EXPECT_FALSE(alice->CanPublish("users/bob/x"));
  EXPECT_TRUE(alice->CanSubscribe("users/alice/#"));
  EXPECT_FALSE(alice->CanSubscribe("users/#"));
  EXPECT_TRUE(alice->CanSubscribe("public/a"));
  auto gw = acl->ForClient("gw-user", "gateway", "");
  EXPECT_TRUE(gw->CanPublish("devices/gateway/t"));
  EXPECT_FALSE(gw->CanPublish("devices/other/t"));
  auto admin = acl->ForClient("admin", "c", "");
  EXPECT_TRUE(admin->CanSubscribe("a/b"));
  EXPECT_FALSE(admin->CanSubscribe("secret/x"));
  EXPECT_FALSE(admin->CanSubscribe("#")) << "overlaps the denied secret/#";
  auto anon = acl->ForClient("", "c", "");
  EXPECT_TRUE(anon->CanSubscribe("public/a"));
  EXPECT_FALSE(anon->CanSubscribe("public/#"));
  EXPECT_FALSE(anon->CanPublish("users//x")) << "%u with no user name disables the filter";
  auto cam = acl->ForClient("cam-1", "x", "cam-1");
  EXPECT_TRUE(cam->CanPublish("cams/cam-1"));
  // Substituted values with wildcards or separators disable the filter.
  auto evil = acl->ForClient("+", "#", "");
  EXPECT_FALSE(evil->CanPublish("users/a/x"));
  auto slash = acl->ForClient("a/b", "c", "");
  EXPECT_FALSE(slash->CanPublish("users/a/b/x"));
}

TEST(Acl, DefaultAllowAndErrors) {
  auto open = Acl::Parse("default: allow\nrules:\n  - user: x\n    deny_publish: [\"a/#\"]\n");
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->ForClient("y", "c", "")->CanPublish("a/b"));
  EXPECT_FALSE(open->ForClient("x", "c", "")->CanPublish("a/b"));
  EXPECT_TRUE(Acl::Parse("").ok());
  for (const char* bad : {"default: maybe\n", "rules: 3\n", "rules:\n  - usr: a\n",
                          "rules:\n  - allow_publish: [\"a/#/b\"]\n",
                          "rules:\n  - allow_publish: \"a\"\n", "other: 1\n", "[1, 2\n"}) {
    EXPECT_FALSE(Acl::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace sluice::auth

namespace sluice::auth {
namespace {

// RFC 7677 section 3: user "user", password "pencil", 4096 iterations.
TEST(Scram, Rfc7677Example) {
  std::string salt;
  ASSERT_TRUE(Base64Decode("W22ZaJ0SNY7soEsUEjb6gQ==", &salt));
  ScramCredentials creds = ScramCredentials::Make("pencil", salt, 4096);
  EXPECT_TRUE(creds.VerifyPassword("pencil"));
  EXPECT_FALSE(creds.VerifyPassword("pencil "));
  auto parsed = ScramCredentials::Parse(creds.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->stored_key, creds.stored_key);

  const std::string client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
  const std::string server_first =
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  const std::string client_final_bare = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const std::string auth_message = client_first_bare + "," + server_first + "," + client_final_bare;
  // Client proof and server signature from the RFC.
  std::string salted = ScramSaltedPassword("pencil", salt, 4096);
  std::string client_key = ScramHmac(salted, "Client Key");
  std::string signature = ScramHmac(ScramSha256(client_key), auth_message);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ signature[i]);
  EXPECT_EQ(Base64Encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(Base64Encode(ScramHmac(creds.server_key, auth_message)),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST(Scram, ServerExchange) {
  ScramCredentials creds = ScramCredentials::Make("pw", "saltsalt", 4096);
  auto lookup = [&](const std::string& user) -> std::optional<ScramCredentials> {
    if (user == "u") return creds;
    return std::nullopt;
  };
  auto play = [&](const std::string& user, const std::string& password) -> absl::StatusOr<std::string> {
    ScramServer server;
    std::string bare = "n=" + user + ",r=abc";
    auto first = server.Start("n,," + bare, lookup);
    if (!first.ok()) return first.status();
    std::string nonce = first->substr(2, first->find(',') - 2);
    std::string without_proof = "c=biws,r=" + nonce;
    std::string auth_message = bare + "," + *first + "," + without_proof;
    std::string salted = ScramSaltedPassword(password, "saltsalt", 4096);
    std::string client_key = ScramHmac(salted, "Client Key");
    std::string signature = ScramHmac(ScramSha256(client_key), auth_message);
    for (size_t i = 0; i < client_key.size(); ++i)
      client_key[i] = static_cast<char>(client_key[i] ^ signature[i]);
    return server.Finish(without_proof + ",p=" + Base64Encode(client_key));
  };
  EXPECT_TRUE(play("u", "pw").ok());
  EXPECT_FALSE(play("u", "px").ok());
  EXPECT_FALSE(play("x", "pw").ok());
  ScramServer s;
  EXPECT_FALSE(s.Start("p=tls-unique,,n=u,r=a", lookup).ok());
  ScramServer s2;
  EXPECT_FALSE(s2.Start("n,,r=a", lookup).ok());
  ScramServer s3;
  ASSERT_TRUE(s3.Start("n,,n=u,r=a", lookup).ok());
  EXPECT_FALSE(s3.Finish("c=biws,r=wrong,p=AAAA").ok());
}

TEST(PasswordFile, ScramEntries) {
  PasswordFile f;
  ASSERT_TRUE(f.Set("alice", "pencil", 4096, /*scram=*/true).ok());
  ASSERT_TRUE(f.Set("bob", "builder", 1000).ok());
  auto g = PasswordFile::Parse(f.Serialize());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->Verify("alice", "pencil"));
  EXPECT_FALSE(g->Verify("alice", "pencil2"));
  EXPECT_TRUE(g->Scram("alice").has_value());
  EXPECT_FALSE(g->Scram("bob").has_value());
  EXPECT_TRUE(g->Verify("bob", "builder"));
}

}  // namespace
}  // namespace sluice::auth
