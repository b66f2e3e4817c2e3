// Refusals seen from outside: every kind of refusal is counted in the broker's Prometheus
// /metrics and logged (to the broker's stderr, read back from a file) with the client id;
// the ACL's client_id and identity selectors with real clients (TCP and mutual TLS); the
// byte-rate limit in 3.1.1 and 5.0, checking refused messages never reach a subscriber.
#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

class RefusalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("refusals");
    log_ = dir_ + "/sluiced.log";
  }
  // Starts the broker with metrics on and its log in log_.
  void StartBroker(std::vector<std::string> flags) {
    flags.push_back("--metrics-listen=127.0.0.1:0");
    std::string error;
    broker_ = Broker::Start(flags, &error, log_);
    ASSERT_TRUE(broker_) << error;
    ASSERT_NE(broker_->port("metrics"), 0);
  }
  std::unique_ptr<Client> Connected(Version v, const std::string& id,
                                    std::optional<std::string> user = std::nullopt) {
    auto client = std::make_unique<Client>(TcpWire(broker_->port()), v);
    EXPECT_EQ(client->Connect(id, user, user ? std::optional<std::string>("pw") : std::nullopt)
                  .reason, 0) << id;
    return client;
  }
  // PUBLISH QoS 1 and the reason code of its PUBACK (0 for a 3.1.1 PUBACK; 0x10 "no
  // matching subscribers" is a success in 5.0); -1 if none.
  int PublishQos1(Client& client, const std::string& topic, const std::string& payload) {
    uint16_t id = client.NextId();
    client.Send(c::Publish(client.version(), {.topic = topic, .payload = payload, .qos = 1, .id = id}));
    Packet ack = client.ReadDecoded();
    if (ack.type != c::kPuback || ack.id != id) return -1;
    return ack.reason;
  }
  // Payloads the subscriber receives up to and including `last` (acknowledging QoS 1);
  // stops early (bounded) when nothing more arrives.
  std::vector<std::string> ReceiveUntil(Client& sub, const std::string& last) {
    std::vector<std::string> got;
    for (int i = 0; i < 20; ++i) {
      Packet p = sub.ReadDecoded();
      if (p.type != c::kPublish) break;
      if (p.qos > 0) sub.Send(c::Ack(sub.version(), c::kPuback, p.id));
      got.push_back(p.payload);
      if (p.payload == last) break;
    }
    return got;
  }
  double Metric(const std::string& series) {
    return MetricValue(ScrapeMetrics(broker_->port("metrics")), series);
  }
  std::string dir_, log_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(RefusalsTest, AclAndDenyRefusalsAreCountedAndLoggedWithClientId) {
  WriteFile(dir_ + "/acl.yaml",
            "rules:\n"
            "  - user: \"*\"\n"
            "    allow_publish: [\"users/%u/#\", \"global/#\"]\n"
            "    allow_subscribe: [\"users/%u/#\", \"global/#\"]\n");
  StartBroker({"--acl-file=" + dir_ + "/acl.yaml", "--deny-publish=global/#",
               "--deny-subscribe=global/#"});
  // One refusal per connection: refusals are logged at most once a second per connection.
  auto acl_pub = Connected(kV5, "acl-pub-5", "alice");
  EXPECT_EQ(PublishQos1(*acl_pub, "other/x", "no"), 0x87);
  auto deny_pub = Connected(kV311, "deny-pub-3", "alice");
  EXPECT_EQ(PublishQos1(*deny_pub, "global/x", "no"), 0) << "3.1.1: acknowledged, dropped";
  auto acl_sub = Connected(kV5, "acl-sub-5", "alice");
  EXPECT_EQ(acl_sub->SubscribeCodes({"other/#"}), (std::vector<uint8_t>{0x87}));
  auto deny_sub = Connected(kV311, "deny-sub-3", "alice");
  EXPECT_EQ(deny_sub->SubscribeCodes({"global/#"}), (std::vector<uint8_t>{0x80}));
  auto ok = Connected(kV5, "ok-5", "alice");
  EXPECT_EQ(PublishQos1(*ok, "users/alice/t", "yes"), 0x10) << "accepted, no subscriber";
  EXPECT_EQ(ok->SubscribeCodes({"users/alice/#"}), (std::vector<uint8_t>{1}));

  // Each refusal was counted before its answer was sent: one scrape sees them all.
  std::string scrape = ScrapeMetrics(broker_->port("metrics"));
  EXPECT_EQ(MetricValue(scrape, "sluice_publishes_denied_total"), 2) << scrape;
  EXPECT_EQ(MetricValue(scrape, "sluice_publishes_denied_acl_total"), 1);
  EXPECT_EQ(MetricValue(scrape, "sluice_subscribes_denied_total"), 2);
  EXPECT_EQ(MetricValue(scrape, "sluice_subscribes_denied_acl_total"), 1);

  EXPECT_NE(AwaitLogLine(log_, {"publish denied by ACL", "client_id=acl-pub-5", "user=alice",
                                "topic=other/x"}), "");
  EXPECT_NE(AwaitLogLine(log_, {"publish denied", "client_id=deny-pub-3", "topic=global/x"}), "");
  EXPECT_NE(AwaitLogLine(log_, {"subscribe denied by ACL", "client_id=acl-sub-5"}), "");
  EXPECT_NE(AwaitLogLine(log_, {"subscribe denied", "client_id=deny-sub-3"}), "");
  EXPECT_TRUE(LinesWith(log_, {"client_id=ok-5", "denied"}).empty())
      << "an allowed client was logged as refused";
}

TEST_F(RefusalsTest, RateAndTopicLimitsAreCountedAndLoggedWithClientId) {
  StartBroker({"--max-publish-rate=2", "--max-topic-levels=3"});
  auto rate = Connected(kV5, "rate-5");
  // The bucket holds one second's worth (2): a burst of 10 meets refusals however slowly
  // the acks come back (no timing assumption beyond "10 acks in under 4 s").
  int refused = 0;
  for (int i = 0; i < 10; ++i)
    if (PublishQos1(*rate, "r/t", "x") == 0x97) ++refused;
  EXPECT_GE(refused, 1);
  auto deep = Connected(kV5, "deep-5");
  EXPECT_EQ(PublishQos1(*deep, "a/b/c/d", "x"), 0x90);
  auto deep_sub = Connected(kV5, "deep-sub-5");
  EXPECT_EQ(deep_sub->SubscribeCodes({"a/b/c/#"}), (std::vector<uint8_t>{0x8F}));

  std::string scrape = ScrapeMetrics(broker_->port("metrics"));
  EXPECT_EQ(MetricValue(scrape, "sluice_publishes_rate_limited_total"), refused) << scrape;
  EXPECT_EQ(MetricValue(scrape, "sluice_topics_refused_limit_total"), 2);
  EXPECT_NE(AwaitLogLine(log_, {"max_publish_rate", "client_id=rate-5"}), "");
  EXPECT_NE(AwaitLogLine(log_, {"publish refused", "max_topic_levels", "client_id=deep-5"}), "");
  EXPECT_NE(AwaitLogLine(log_, {"subscribe refused", "client_id=deep-sub-5"}), "");
}

TEST_F(RefusalsTest, TotalConnectionLimitIsCountedAndLogged) {
  StartBroker({"--max-connections=2"});
  auto a = Connected(kV5, "a");
  auto b = Connected(kV5, "b");
  Client third(TcpWire(broker_->port()), kV5);
  third.Send(c::Connect({.version = kV5, .client_id = "third"}));
  EXPECT_TRUE(third.ExpectClosed()) << "the third connection is closed at accept";
  EXPECT_GE(AwaitMetric(broker_->port("metrics"),
                        "sluice_connections_refused_limit_total{limit=\"max_connections\"}", 1),
            1);
  EXPECT_EQ(Metric("sluice_connections_refused_limit_total{limit=\"max_connections_per_address\"}"),
            0);
  // Refused before any CONNECT was read: the log names the limit and the peer.
  EXPECT_NE(AwaitLogLine(log_, {"connection refused", "max_connections", "peer=127.0.0.1"}), "");
  // The held connections are unharmed.
  EXPECT_EQ(PublishQos1(*a, "t", "x"), 0x10) << "accepted, no subscriber";
}

TEST_F(RefusalsTest, BadTlsHandshakesAreCounted) {
  Pki pki(dir_);
  KeyPair server = pki.Issue("server", {.cn = "s", .server = true});
  StartBroker({"--tls-listen=127.0.0.1:0", "--tls-cert-file=" + server.cert_file,
               "--tls-key-file=" + server.key_file, "--tls-min-version=1.3"});
  const uint16_t tls = broker_->port("tls");
  ASSERT_NE(tls, 0);
  EXPECT_EQ(Metric("sluice_handshake_failures_total"), 0);
  // Plain text on the TLS port.
  Client plain(TcpWire(tls), kV5);
  plain.Send("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(plain.ExpectClosed());
  EXPECT_EQ(AwaitMetric(broker_->port("metrics"), "sluice_handshake_failures_total", 1), 1);
  // A client offering only TLS 1.2 to a broker requiring 1.3.
  TlsClientOptions old{.ca_file = pki.ca_file(), .max_version = TLS1_2_VERSION};
  std::string error;
  EXPECT_FALSE(TlsWire(tls, old, &error)) << "TLS 1.2 was accepted";
  EXPECT_EQ(AwaitMetric(broker_->port("metrics"), "sluice_handshake_failures_total", 2), 2);
  // A good handshake is not a failure.
  TlsClientOptions good{.ca_file = pki.ca_file()};
  Client ok(TlsWire(tls, good, &error), kV5);
  ASSERT_TRUE(ok.ok()) << error;
  EXPECT_EQ(ok.Connect("tls-ok").reason, 0);
  EXPECT_EQ(Metric("sluice_handshake_failures_total"), 2);
}

constexpr char kSelectorRules[] =
    "default: deny\n"
    "rules:\n"
    "  - client_id: watcher\n"
    "    allow_subscribe: [\"#\"]\n"
    "  - client_id: gateway-1\n"
    "    allow_publish: [\"devices/%c/+\"]\n"
    "  - identity: cam-1\n"
    "    allow_publish: [\"cams/cam-1/#\"]\n"
    "  - identity: \"*\"\n"
    "    allow_publish: [\"cams/any-certificate\"]\n"
    "  - client_id: marker\n"
    "    allow_publish: [\"#\"]\n";

TEST_F(RefusalsTest, ClientIdAndIdentitySelectorsWithRealClients) {
  Pki pki(dir_);
  KeyPair server = pki.Issue("server", {.cn = "s", .server = true});
  KeyPair cam1 = pki.Issue("cam-1", {.cn = "cam-1"});
  KeyPair cam2 = pki.Issue("cam-2", {.cn = "cam-2"});
  WriteFile(dir_ + "/acl.yaml", kSelectorRules);
  // One shard: deliveries keep the order of the publishes (each awaited before the next).
  StartBroker({"--threads=1", "--acl-file=" + dir_ + "/acl.yaml", "--tls-listen=127.0.0.1:0",
               "--tls-cert-file=" + server.cert_file, "--tls-key-file=" + server.key_file,
               "--tls-ca-file=" + pki.ca_file()});
  auto tls_client = [&](const KeyPair& cert, const std::string& id) {
    TlsClientOptions o{.ca_file = pki.ca_file(), .cert_file = cert.cert_file,
                       .key_file = cert.key_file};
    std::string error;
    auto client = std::make_unique<Client>(TlsWire(broker_->port("tls"), o, &error), kV5);
    EXPECT_TRUE(client->ok()) << error;
    EXPECT_EQ(client->Connect(id).reason, 0) << id;
    return client;
  };
  auto watcher = Connected(kV5, "watcher");
  EXPECT_EQ(watcher->SubscribeCodes({"devices/#", "cams/#", "done"}),
            (std::vector<uint8_t>{1, 1, 1}));
  auto other = Connected(kV5, "not-watcher");
  EXPECT_EQ(other->SubscribeCodes({"devices/#"}), (std::vector<uint8_t>{0x87}));

  // client_id: the rule and its %c follow the client id.
  auto gw1 = Connected(kV5, "gateway-1");
  EXPECT_EQ(PublishQos1(*gw1, "devices/gateway-1/t", "gw1"), 0);
  EXPECT_EQ(PublishQos1(*gw1, "devices/gateway-2/t", "gw1-as-gw2"), 0x87);
  auto gw2 = Connected(kV311, "gateway-2");
  EXPECT_EQ(PublishQos1(*gw2, "devices/gateway-2/t", "gw2"), 0) << "3.1.1: acknowledged, dropped";

  // identity: the certificate's CN, not the user name or client id.
  auto cam1_tls = tls_client(cam1, "cam-1");
  EXPECT_EQ(PublishQos1(*cam1_tls, "cams/cam-1/image", "cam1"), 0);
  auto cam2_tls = tls_client(cam2, "cam-2");
  EXPECT_EQ(PublishQos1(*cam2_tls, "cams/cam-1/image", "cam2-as-cam1"), 0x87);
  EXPECT_EQ(PublishQos1(*cam2_tls, "cams/any-certificate", "cam2-any"), 0);
  auto cam1_tcp = Connected(kV5, "cam-1-tcp", "cam-1");
  EXPECT_EQ(PublishQos1(*cam1_tcp, "cams/cam-1/image", "tcp-as-cam1"), 0x87)
      << "a user name equal to the identity proves nothing";
  EXPECT_EQ(PublishQos1(*cam1_tcp, "cams/any-certificate", "tcp-any"), 0x87)
      << "identity \"*\" needs a certificate";

  auto marker = Connected(kV5, "marker");
  EXPECT_EQ(PublishQos1(*marker, "done", "end"), 0);
  EXPECT_EQ(ReceiveUntil(*watcher, "end"),
            (std::vector<std::string>{"gw1", "cam1", "cam2-any", "end"}))
      << "exactly the allowed publishes, in order";
  EXPECT_EQ(Metric("sluice_publishes_denied_acl_total"), 5);
}

TEST_F(RefusalsTest, ByteRateRefusalsAreNotDeliveredIn311And5) {
  StartBroker({"--threads=1", "--max-publish-bytes-rate=1000"});
  auto sub = Connected(kV5, "sub");
  EXPECT_EQ(sub->SubscribeCodes({"b/#"}), (std::vector<uint8_t>{1}));
  auto marker = Connected(kV5, "marker");  // its own bucket
  // 900 + 900 bytes: the second is refused unless 0.8 s pass between them.
  const std::string first(900, 'a'), second(900, 'b');
  for (Version v : {kV311, kV5}) {
    const std::string tag = v == kV311 ? "311" : "5";
    SCOPED_TRACE(tag);
    auto pub = Connected(v, "bytes-" + tag);
    EXPECT_EQ(PublishQos1(*pub, "b/" + tag, first), 0);
    // Over the byte budget: 5.0 is told (0x97); 3.1.1 gets a plain PUBACK (it has no
    // reason codes) and the message is dropped all the same.
    EXPECT_EQ(PublishQos1(*pub, "b/" + tag, second), v == kV5 ? 0x97 : 0);
    EXPECT_EQ(PublishQos1(*marker, "b/marker", "marker-" + tag), 0);
    EXPECT_EQ(ReceiveUntil(*sub, "marker-" + tag),
              (std::vector<std::string>{first, "marker-" + tag}))
        << "the refused publish was delivered";
    EXPECT_NE(AwaitLogLine(log_, {"max_publish_bytes_rate", "client_id=bytes-" + tag}), "");
  }
  EXPECT_EQ(Metric("sluice_publishes_rate_limited_total"), 2);
}

}  // namespace
}  // namespace sluice::security_test
