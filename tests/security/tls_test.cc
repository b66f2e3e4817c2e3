// TLS and mutual TLS listeners with real sockets: certificates made by the test (support.h),
// a TLS 1.2/1.3 client on OpenSSL, and mosquitto_pub/mosquitto_sub as a user would run them.
#include <openssl/ssl.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("tls");
    pki_ = std::make_unique<Pki>(dir_);
    server_ = pki_->Issue("server", {.cn = "server-a", .server = true});
  }
  std::vector<std::string> TlsFlags() {
    return {"--tls-listen=127.0.0.1:0", "--tls-cert-file=" + server_.cert_file,
            "--tls-key-file=" + server_.key_file};
  }
  // With `log_file`, the broker logs there (for tests that wait for its reload lines).
  void StartBroker(std::vector<std::string> extra, const std::string& log_file = "") {
    std::vector<std::string> flags = TlsFlags();
    flags.insert(flags.end(), extra.begin(), extra.end());
    std::string error;
    broker_ = Broker::Start(flags, &error, log_file);
    ASSERT_TRUE(broker_) << error;
    ASSERT_NE(broker_->port("tls"), 0) << "no 'tls' line on the ready fd";
  }
  TlsClientOptions Opts(const KeyPair* client = nullptr) {
    TlsClientOptions o;
    o.ca_file = pki_->ca_file();
    if (client) {
      o.cert_file = client->cert_file;
      o.key_file = client->key_file;
    }
    return o;
  }
  std::unique_ptr<Client> TlsClient(const TlsClientOptions& o, Version v = kV5) {
    std::string error;
    auto wire = TlsWire(broker_->port("tls"), o, &error);
    EXPECT_TRUE(wire) << error;
    return std::make_unique<Client>(std::move(wire), v);
  }
  // True when the TLS connection is refused: at the handshake, or (TLS 1.3 verifies the
  // client certificate after the client's handshake completes) before any CONNACK.
  bool Refused(const TlsClientOptions& o) {
    std::string error;
    auto wire = TlsWire(broker_->port("tls"), o, &error);
    if (!wire) return true;
    Client client(std::move(wire), kV5);
    return client.Connect("refused-probe").type == 0;
  }

  std::string dir_;
  std::unique_ptr<Pki> pki_;
  KeyPair server_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(TlsTest, PublishAndSubscribeOverTlsAcrossShards) {
  // Several shards, so that most client ids live on a shard other than the accepting one:
  // the TLS stream stays and its handlers move (net::Stream::Rebind).
  StartBroker({"--threads=4"});
  std::vector<std::unique_ptr<Client>> subs;
  for (int i = 0; i < 8; ++i) {
    auto s = TlsClient(Opts());
    ASSERT_EQ(s->Connect("tls-sub-" + std::to_string(i)).reason, 0);
    ASSERT_TRUE(s->Send(c::Subscribe(kV5, 1, {{.filter = "tls/t", .qos = 1}})));
    ASSERT_EQ(s->ReadDecoded().type, c::kSuback);
    subs.push_back(std::move(s));
  }
  Client pub(TcpWire(broker_->port()), kV311);
  ASSERT_EQ(pub.Connect("tcp-pub").reason, 0);
  ASSERT_TRUE(pub.Send(c::Publish(kV311, {.topic = "tls/t", .payload = "hello", .qos = 1, .id = 7})));
  EXPECT_EQ(pub.ReadDecoded().type, c::kPuback);
  for (auto& s : subs) {
    Packet p = s->ReadDecoded();
    EXPECT_EQ(p.type, c::kPublish);
    EXPECT_EQ(p.payload, "hello");
    ASSERT_TRUE(s->Send(c::Ack(kV5, c::kPuback, p.id)));
  }
  // And the other way: a TLS publisher, a TCP subscriber.
  Client tcp_sub(TcpWire(broker_->port()), kV5);
  ASSERT_EQ(tcp_sub.Connect("tcp-sub").reason, 0);
  ASSERT_TRUE(tcp_sub.Send(c::Subscribe(kV5, 1, {{.filter = "from/tls"}})));
  ASSERT_EQ(tcp_sub.ReadDecoded().type, c::kSuback);
  ASSERT_TRUE(subs[3]->Send(c::Publish(kV5, {.topic = "from/tls", .payload = "x"})));
  EXPECT_EQ(tcp_sub.ReadDecoded().payload, "x");
  // A large message crosses many TLS records.
  std::string big(300000, 'b');
  ASSERT_TRUE(subs[5]->Send(c::Publish(kV5, {.topic = "from/tls", .payload = big})));
  EXPECT_EQ(tcp_sub.ReadDecoded().payload, big);
}

TEST_F(TlsTest, MinimumVersionAndPlainTcpOnTlsPort) {
  StartBroker({"--tls-min-version=1.3"});
  TlsClientOptions old = Opts();
  old.max_version = TLS1_2_VERSION;
  std::string error;
  EXPECT_FALSE(TlsWire(broker_->port("tls"), old, &error)) << "TLS 1.2 accepted with min 1.3";
  EXPECT_TRUE(TlsClient(Opts())->Connect("tls13").type == c::kConnack);
  // Plain MQTT on the TLS port is a failed handshake; the broker stays up.
  Client plain(TcpWire(broker_->port("tls")), kV5);
  plain.Connect("plain");
  EXPECT_TRUE(plain.ExpectClosed());
  EXPECT_FALSE(broker_->Exited());
}

TEST_F(TlsTest, ConfiguredCiphersAndSuitesAreTheOnlyOnesAccepted) {
  StartBroker({"--tls-ciphers=ECDHE-ECDSA-AES256-GCM-SHA384",
               "--tls-ciphersuites=TLS_AES_256_GCM_SHA384"});
  std::string error;
  TlsClientOptions o = Opts();
  o.max_version = TLS1_2_VERSION;
  o.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_FALSE(TlsWire(broker_->port("tls"), o, &error)) << "TLS 1.2 cipher not configured";
  o.ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  EXPECT_TRUE(TlsWire(broker_->port("tls"), o, &error)) << error;
  TlsClientOptions o13 = Opts();
  o13.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
  EXPECT_FALSE(TlsWire(broker_->port("tls"), o13, &error)) << "TLS 1.3 suite not configured";
  o13.ciphersuites = "TLS_AES_256_GCM_SHA384";
  auto ok = TlsWire(broker_->port("tls"), o13, &error);
  ASSERT_TRUE(ok) << error;
  Client client(std::move(ok), kV5);
  EXPECT_EQ(client.Connect("suite").reason, 0);
  // A bad cipher setting stops the broker at start, naming the setting.
  std::string start_error;
  auto bad = Broker::Start({"--tls-listen=127.0.0.1:0", "--tls-cert-file=" + server_.cert_file,
                            "--tls-key-file=" + server_.key_file, "--tls-ciphers=NOPE-NOTHING"},
                           &start_error);
  EXPECT_FALSE(bad);
}

TEST_F(TlsTest, MutualTlsRejectsMissingExpiredAndForeignCertificates) {
  StartBroker({"--tls-ca-file=" + pki_->ca_file(), "--tls-require-client-cert"});
  KeyPair good = pki_->Issue("good", {.cn = "device-1"});
  KeyPair expired = pki_->Issue("expired", {.cn = "device-2", .not_before_s = -7200,
                                            .not_after_s = -3600});
  KeyPair future = pki_->Issue("future", {.cn = "device-3", .not_before_s = 3600,
                                          .not_after_s = 7200});
  Pki other(TempDir("other-ca"), "other-ca");
  KeyPair foreign = other.Issue("foreign", {.cn = "device-4"});

  EXPECT_TRUE(Refused(Opts())) << "no client certificate";
  EXPECT_TRUE(Refused(Opts(&expired))) << "expired certificate";
  EXPECT_TRUE(Refused(Opts(&future))) << "not yet valid certificate";
  EXPECT_TRUE(Refused(Opts(&foreign))) << "certificate of another CA";
  auto ok = TlsClient(Opts(&good));
  EXPECT_EQ(ok->Connect("device-1").reason, 0);
  EXPECT_FALSE(broker_->Exited());
}

TEST_F(TlsTest, CertificateIdentityIsTheUserNameForAcl) {
  std::string acl = dir_ + "/acl.yaml";
  WriteFile(acl,
            "rules:\n"
            "  - user: \"*\"\n"
            "    allow_publish: [\"devices/%u/#\"]\n"
            "    allow_subscribe: [\"devices/%u/#\"]\n");
  std::string passwords = dir_ + "/passwords";
  WriteFile(passwords, "");  // no user could log in with a password
  StartBroker({"--tls-ca-file=" + pki_->ca_file(), "--tls-require-client-cert",
               "--tls-use-identity-as-username", "--acl-file=" + acl,
               "--password-file=" + passwords, "--allow-anonymous=false"});
  KeyPair dev = pki_->Issue("dev7", {.cn = "dev-7"});
  KeyPair san_only = pki_->Issue("san", {.cn = "", .san_dns = "dev-9.example"});
  auto client = TlsClient(Opts(&dev));
  // The user name and password sent are ignored: the certificate is the credential.
  ASSERT_EQ(client->Connect("any-id", "mallory", "wrong").reason, 0);
  ASSERT_TRUE(client->Send(c::Publish(kV5, {.topic = "devices/dev-7/t", .qos = 1, .id = 1})));
  Packet ack = client->ReadDecoded();
  EXPECT_EQ(ack.type, c::kPuback);
  EXPECT_LT(ack.reason, 0x80);
  ASSERT_TRUE(client->Send(c::Publish(kV5, {.topic = "devices/dev-8/t", .qos = 1, .id = 2})));
  ack = client->ReadDecoded();
  EXPECT_EQ(ack.type, c::kPuback);
  EXPECT_EQ(ack.reason, 0x87);
  ASSERT_TRUE(client->Send(c::Subscribe(kV5, 3, {{.filter = "devices/dev-7/#"},
                                                 {.filter = "devices/+/t"}})));
  Packet suback = client->ReadDecoded();
  ASSERT_EQ(suback.type, c::kSuback);
  EXPECT_EQ(suback.reasons, (std::vector<uint8_t>{0x00, 0x87}));
  // A certificate without CN: the first DNS subjectAltName is the identity.
  auto san = TlsClient(Opts(&san_only));
  ASSERT_EQ(san->Connect("other").reason, 0);
  ASSERT_TRUE(san->Send(c::Publish(kV5, {.topic = "devices/dev-9.example/x", .qos = 1, .id = 1})));
  EXPECT_LT(san->ReadDecoded().reason, 0x80);
  // On the plain TCP listener the same broker wants a password (the file is empty).
  Client tcp(TcpWire(broker_->port()), kV5);
  EXPECT_EQ(tcp.Connect("tcp", "dev-7", "x").reason, 0x86);
}

TEST_F(TlsTest, CertificateReloadOnSighupKeepsExistingConnections) {
  StartBroker({"--metrics-listen=127.0.0.1:0"}, dir_ + "/sluiced.log");
  std::string cn;
  std::string error;
  auto wire = TlsWire(broker_->port("tls"), Opts(), &error, &cn);
  ASSERT_TRUE(wire) << error;
  EXPECT_EQ(cn, "server-a");
  Client old(std::move(wire), kV5);
  ASSERT_EQ(old.Connect("old").reason, 0);

  KeyPair b = pki_->Issue("server-b", {.cn = "server-b", .server = true});
  std::filesystem::copy_file(b.cert_file, server_.cert_file,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(b.key_file, server_.key_file,
                             std::filesystem::copy_options::overwrite_existing);
  auto w = TlsWire(broker_->port("tls"), Opts(), &error, &cn);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(cn, "server-a") << "the new files were used before the reload";
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kTlsReloaded));
  w = TlsWire(broker_->port("tls"), Opts(), &error, &cn);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(cn, "server-b") << "new connections still get the old certificate";
  ASSERT_TRUE(old.Send(c::Pingreq()));
  EXPECT_EQ(old.ReadDecoded().type, c::kPingresp) << "the existing connection was disturbed";

  // A broken certificate file: the reload fails and the current certificate stays.
  WriteFile(server_.cert_file, "not a certificate");
  ASSERT_TRUE(ReloadAndAwait(broker_.get(), kTlsReloadFailed));
  w = TlsWire(broker_->port("tls"), Opts(), &error, &cn);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(cn, "server-b");
  EXPECT_FALSE(broker_->Exited());
}

// Waits (bounded) until a file written now gets another modification time than `path` has:
// at once where file times have sub-second resolution, within a second where they do not.
bool AwaitNewMtime(const std::string& path) {
  const auto loaded = std::filesystem::last_write_time(path);
  const std::string probe = path + ".mtime-probe";
  return Eventually([&] {
    WriteFile(probe, "x");
    return std::filesystem::last_write_time(probe) != loaded;
  });
}

TEST_F(TlsTest, CertificateReloadWhenFilesChange) {
  const std::string log = dir_ + "/sluiced.log";
  StartBroker({"--tls-reload-interval-s=1"}, log);
  KeyPair b = pki_->Issue("server-c", {.cn = "server-c", .server = true});
  // The watcher compares modification times with those of the files it loaded.
  ASSERT_TRUE(AwaitNewMtime(server_.cert_file)) << "file times do not advance";
  std::filesystem::copy_file(b.key_file, server_.key_file,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(b.cert_file, server_.cert_file,
                             std::filesystem::copy_options::overwrite_existing);
  // Checked every second; a check between the two copies fails (key and certificate do not
  // match) and the next one reloads.
  ASSERT_NE(AwaitLogLine(log, {kTlsFilesChangedReloaded}), "")
      << "no reload within " << kTimeout.count() << " ms of the files changing; the log ends:\n"
      << LogTail(log, 15);
  std::string cn, error;
  auto w = TlsWire(broker_->port("tls"), Opts(), &error, &cn);
  ASSERT_TRUE(w) << error;
  EXPECT_EQ(cn, "server-c");
}

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST_F(TlsTest, MosquittoClientsWithCaFileAndClientCertificate) {
  if (std::system("command -v mosquitto_pub >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "mosquitto-clients not installed";
  KeyPair client = pki_->Issue("mosq", {.cn = "sensor-1"});
  std::string acl = dir_ + "/acl.yaml";
  WriteFile(acl, "rules:\n  - user: sensor-1\n    allow_publish: [\"sensors/#\"]\n"
                 "    allow_subscribe: [\"sensors/#\"]\n");
  StartBroker({"--tls-ca-file=" + pki_->ca_file(), "--tls-require-client-cert",
               "--tls-use-identity-as-username", "--acl-file=" + acl});
  std::string port = std::to_string(broker_->port("tls"));
  std::string tls = " -h localhost -p " + port + " --cafile " + pki_->ca_file() + " --cert " +
                    client.cert_file + " --key " + client.key_file;
  // Retained, so that the subscriber started afterwards receives it.
  std::string pub = Shell("timeout 10 mosquitto_pub" + tls +
                        " -V mqttv5 -q 1 -r -t sensors/t1 -m 21.5 2>&1; echo rc=$?");
  EXPECT_NE(pub.find("rc=0"), std::string::npos) << pub;
  std::string sub = Shell("timeout 10 mosquitto_sub" + tls + " -t 'sensors/#' -C 1 -W 5 2>&1");
  EXPECT_EQ(sub, "21.5\n");
  // Without a client certificate the broker refuses.
  std::string refused = Shell("timeout 10 mosquitto_pub -h localhost -p " + port + " --cafile " +
                            pki_->ca_file() + " -t sensors/t1 -m x 2>&1; echo rc=$?");
  EXPECT_EQ(refused.find("rc=0"), std::string::npos) << refused;
  // A topic outside the ACL: refused; mosquitto_pub prints the PUBACK reason (0x87) of 5.0.
  std::string denied = Shell("timeout 10 mosquitto_pub" + tls +
                             " -V mqttv5 -q 1 -t other/t -m x 2>&1");
  EXPECT_NE(denied.find("Not authorized"), std::string::npos) << denied;
}

}  // namespace
}  // namespace sluice::security_test
