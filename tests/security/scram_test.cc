// MQTT 5 enhanced authentication with SCRAM-SHA-256 against real sluiced: the test plays the
// client side of RFC 5802 with OpenSSL (broker/auth/scram.h primitives) over raw MQTT bytes.
#include <cstdlib>

#include <gtest/gtest.h>

#include "broker/auth/scram.h"
#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV5;
namespace c = conformance;

constexpr uint8_t kAuthData = 0x16;

std::string Attr(const std::string& message, char key) {
  size_t at = message.find(std::string(1, key) + "=");
  while (at != std::string::npos && at != 0 && message[at - 1] != ',')
    at = message.find(std::string(1, key) + "=", at + 1);
  if (at == std::string::npos) return "";
  size_t end = message.find(',', at);
  return message.substr(at + 2, end == std::string::npos ? end : end - at - 2);
}

Bytes AuthPacket(uint8_t reason, const std::string& data) {
  c::Properties props;
  props.Add(c::kAuthMethod, "SCRAM-SHA-256").Add(kAuthData, data);
  return c::Frame(0xF0, std::string(1, static_cast<char>(reason)) + props.Encode());
}

class ScramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("scram");
    file_ = dir_ + "/passwords";
    std::string cmd = Runfile("SLUICE_PASSWD") + " -c -s -i 4096 " + file_ + " alice pencil";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    cmd = Runfile("SLUICE_PASSWD") + " -i 1000 " + file_ + " bob builder";  // PBKDF2 only
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::string acl = dir_ + "/acl.yaml";
    WriteFile(acl, "rules:\n  - user: \"*\"\n    allow_publish: [\"users/%u/#\"]\n");
    std::string error;
    broker_ = Broker::Start({"--password-file=" + file_, "--allow-anonymous=false",
                             "--acl-file=" + acl, "--threads=3"},
                            &error);
    ASSERT_TRUE(broker_) << error;
  }
  // Runs the exchange; returns the CONNACK. *server_ok tells whether the server's signature
  // verified.
  Packet Scram(Client& client, const std::string& id, const std::string& user,
               const std::string& password, bool* server_ok = nullptr) {
    const std::string client_first_bare = "n=" + user + ",r=fyko+d2lbbFgONRv9qkxdawL";
    c::ConnectSpec spec;
    spec.client_id = id;
    spec.props.Add(c::kAuthMethod, "SCRAM-SHA-256").Add(kAuthData, "n,," + client_first_bare);
    client.Send(c::Connect(spec));
    Packet auth = client.ReadDecoded();
    if (auth.type != c::kAuth) return auth;
    EXPECT_EQ(auth.reason, 0x18);
    std::string server_first = auth.props.Str(kAuthData).value_or("");
    std::string nonce = Attr(server_first, 'r'), salt;
    EXPECT_TRUE(auth::Base64Decode(Attr(server_first, 's'), &salt)) << server_first;
    int64_t iterations = std::atoll(Attr(server_first, 'i').c_str());
    std::string without_proof = "c=biws,r=" + nonce;
    std::string auth_message = client_first_bare + "," + server_first + "," + without_proof;
    std::string salted = auth::ScramSaltedPassword(password, salt, iterations);
    std::string client_key = auth::ScramHmac(salted, "Client Key");
    std::string signature = auth::ScramHmac(auth::ScramSha256(client_key), auth_message);
    std::string proof = client_key;
    for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ signature[i]);
    client.Send(AuthPacket(0x18, without_proof + ",p=" + auth::Base64Encode(proof)));
    Packet connack = client.ReadDecoded();
    if (server_ok) {
      std::string expected =
          "v=" + auth::Base64Encode(auth::ScramHmac(auth::ScramHmac(salted, "Server Key"),
                                                    auth_message));
      *server_ok = connack.props.Str(kAuthData) == expected &&
                   connack.props.Str(c::kAuthMethod) == "SCRAM-SHA-256";
    }
    return connack;
  }
  std::string dir_, file_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(ScramTest, SuccessfulExchangeAuthenticatesTheUser) {
  for (int i = 0; i < 4; ++i) {  // several client ids: some move to another shard
    Client client(TcpWire(broker_->port()), kV5);
    bool server_ok = false;
    Packet connack = Scram(client, "scram-" + std::to_string(i), "alice", "pencil", &server_ok);
    ASSERT_EQ(connack.type, c::kConnack);
    EXPECT_EQ(connack.reason, 0);
    EXPECT_TRUE(server_ok) << "the server signature did not verify";
    // The SCRAM user name is the session's user: the ACL's %u applies.
    client.Send(c::Publish(kV5, {.topic = "users/alice/x", .qos = 1, .id = 1}));
    EXPECT_LT(client.ReadDecoded().reason, 0x80);
    client.Send(c::Publish(kV5, {.topic = "users/bob/x", .qos = 1, .id = 2}));
    EXPECT_EQ(client.ReadDecoded().reason, 0x87);
  }
}

TEST_F(ScramTest, WrongPasswordUnknownUserAndNonScramEntryAreRefused) {
  Client wrong(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(Scram(wrong, "w", "alice", "pencil2").reason, 0x86);
  Client unknown(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(Scram(unknown, "u", "nobody", "x").reason, 0x86);
  Client pbkdf2_only(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(Scram(pbkdf2_only, "b", "bob", "builder").reason, 0x86);
}

TEST_F(ScramTest, OtherMethodsAndBrokenExchangesAreRefused) {
  Client other(TcpWire(broker_->port()), kV5);
  c::ConnectSpec spec;
  spec.client_id = "o";
  spec.props.Add(c::kAuthMethod, "PLAIN");
  other.Send(c::Connect(spec));
  Packet p = other.ReadDecoded();
  EXPECT_EQ(p.type, c::kConnack);
  EXPECT_EQ(p.reason, 0x8C);
  Client garbage(TcpWire(broker_->port()), kV5);
  spec.props = {};
  spec.props.Add(c::kAuthMethod, "SCRAM-SHA-256").Add(kAuthData, "p=tls-unique,,n=a,r=x");
  garbage.Send(c::Connect(spec));
  EXPECT_EQ(garbage.ReadDecoded().reason, 0x86);
  // A PUBLISH instead of the AUTH continuation is a protocol error.
  Client rude(TcpWire(broker_->port()), kV5);
  spec.props = {};
  spec.props.Add(c::kAuthMethod, "SCRAM-SHA-256").Add(kAuthData, "n,,n=alice,r=abc");
  rude.Send(c::Connect(spec));
  EXPECT_EQ(rude.ReadDecoded().type, c::kAuth);
  rude.Send(c::Publish(kV5, {.topic = "t"}));
  EXPECT_TRUE(rude.ExpectClosed());
}

// The client half of an exchange on an open connection: AUTH `first_reason` with
// client-first, then client-final; returns the broker's last answer.
Packet Reauth(Client& client, const std::string& user, const std::string& password) {
  const std::string bare = "n=" + user + ",r=reauthnonce";
  client.Send(AuthPacket(0x19, "n,," + bare));
  Packet challenge = client.ReadDecoded();
  if (challenge.type != c::kAuth) return challenge;
  std::string server_first = challenge.props.Str(kAuthData).value_or("");
  std::string salt;
  auth::Base64Decode(Attr(server_first, 's'), &salt);
  std::string without_proof = "c=biws,r=" + Attr(server_first, 'r');
  std::string auth_message = bare + "," + server_first + "," + without_proof;
  std::string salted =
      auth::ScramSaltedPassword(password, salt, std::atoll(Attr(server_first, 'i').c_str()));
  std::string key = auth::ScramHmac(salted, "Client Key");
  std::string sig = auth::ScramHmac(auth::ScramSha256(key), auth_message);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(key[i] ^ sig[i]);
  client.Send(AuthPacket(0x18, without_proof + ",p=" + auth::Base64Encode(key)));
  return client.ReadDecoded();
}

TEST_F(ScramTest, ReauthenticationOnAnOpenConnection) {
  Client client(TcpWire(broker_->port()), kV5);
  ASSERT_EQ(Scram(client, "re", "alice", "pencil").reason, 0);
  Packet ok = Reauth(client, "alice", "pencil");
  EXPECT_EQ(ok.type, c::kAuth);
  EXPECT_EQ(ok.reason, 0x00);
  EXPECT_EQ(ok.props.Str(kAuthData).value_or("").substr(0, 2), "v=");
  client.Send(c::Pingreq());
  EXPECT_EQ(client.ReadDecoded().type, c::kPingresp);
  // A wrong password on re-authentication ends the connection with 0x87.
  Packet bad = Reauth(client, "alice", "wrong");
  EXPECT_EQ(bad.type, c::kDisconnect);
  EXPECT_EQ(bad.reason, 0x87);
  EXPECT_TRUE(client.ExpectClosed());
  // AUTH on a connection that did not use enhanced authentication: protocol error.
  Client plain(TcpWire(broker_->port()), kV5);
  ASSERT_EQ(plain.Connect("plain", "alice", "pencil").reason, 0);
  plain.Send(AuthPacket(0x19, "n,,n=alice,r=x"));
  Packet disconnect = plain.ReadDecoded();
  EXPECT_EQ(disconnect.type, c::kDisconnect);
  EXPECT_EQ(disconnect.reason, 0x82);
}

TEST_F(ScramTest, ScramEntryAlsoChecksPlainPasswords) {
  Client plain(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(plain.Connect("p", "alice", "pencil").reason, 0);
  Client bad(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(bad.Connect("q", "alice", "pen").reason, 0x86);
}

}  // namespace
}  // namespace sluice::security_test
