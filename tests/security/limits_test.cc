// Limits (issue 8): connections total / per address / rate, connect timeout (TCP and TLS),
// publish rate and bytes, subscriptions per client, topic length and levels — each being hit.
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

class LimitsTest : public ::testing::Test {
 protected:
  void StartBroker(const std::vector<std::string>& flags) {
    std::string error;
    broker_ = Broker::Start(flags, &error);
    ASSERT_TRUE(broker_) << error;
  }
  // True when a new TCP connection gets a CONNACK.
  bool Admitted(const std::string& id, std::unique_ptr<Client>* keep = nullptr) {
    auto client = std::make_unique<Client>(TcpWire(broker_->port()), kV5);
    bool ok = client->Connect(id).type == c::kConnack;
    if (keep) *keep = std::move(client);
    return ok;
  }
  std::unique_ptr<Broker> broker_;
};

TEST_F(LimitsTest, ConnectionsPerAddressAndTotal) {
  StartBroker({"--max-connections-per-address=3"});
  std::vector<std::unique_ptr<Client>> held(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Admitted("c" + std::to_string(i), &held[i]));
  EXPECT_FALSE(Admitted("c3")) << "a 4th connection from 127.0.0.1";
  held[0].reset();
  // The slot frees when the broker has seen the close: no event to wait for but the slot.
  EXPECT_TRUE(Eventually([&] { return Admitted("c4", &held[0]); }))
      << "the closed connection's slot was not freed";
  broker_.reset();

  StartBroker({"--max-connections=2"});
  std::unique_ptr<Client> a, b;
  ASSERT_TRUE(Admitted("a", &a));
  ASSERT_TRUE(Admitted("b", &b));
  EXPECT_FALSE(Admitted("c"));
}

TEST_F(LimitsTest, RefusalsAndAuthFailuresAreCountedInMetrics) {
  std::string dir = TempDir("metrics");
  ASSERT_EQ(std::system((Runfile("SLUICE_PASSWD") + " -c -i 1000 " + dir + "/pw alice a").c_str()), 0);
  StartBroker({"--max-connections-per-address=1", "--metrics-listen=127.0.0.1:0",
               "--password-file=" + dir + "/pw", "--max-subscriptions-per-client=1"});
  ASSERT_NE(broker_->port("metrics"), 0);
  std::unique_ptr<Client> held;
  ASSERT_TRUE(Admitted("one", &held));
  EXPECT_FALSE(Admitted("two"));
  held->Send(c::Subscribe(kV5, 1, {{.filter = "a"}, {.filter = "b"}}));
  EXPECT_EQ(held->ReadDecoded().reasons, (std::vector<uint8_t>{0, 0x97}));
  held.reset();
  ASSERT_TRUE(Eventually([&] {  // the slot frees when the close is seen
    Client bad(TcpWire(broker_->port()), kV5);
    return bad.Connect("bad", "alice", "wrong").reason == 0x86;
  }));
  std::string metrics = ScrapeMetrics(broker_->port("metrics"));
  auto value = [&](const std::string& series) { return MetricValue(metrics, series); };
  // At least the one refused above; the retries racing the slot's release may add more.
  EXPECT_GE(value("sluice_connections_refused_limit_total{limit=\"max_connections_per_address\"}"), 1)
      << metrics;
  EXPECT_EQ(value("sluice_connections_refused_limit_total{limit=\"max_connection_rate\"}"), 0);
  EXPECT_EQ(value("sluice_auth_failures_total"), 1);
  EXPECT_EQ(value("sluice_subscriptions_refused_limit_total"), 1);
}

TEST_F(LimitsTest, ConnectionRate) {
  StartBroker({"--max-connection-rate=5"});
  int admitted = 0;
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 20; ++i) {
    std::unique_ptr<Client> c;
    if (Admitted("r" + std::to_string(i), &c)) ++admitted;
    held.push_back(std::move(c));
  }
  EXPECT_GE(admitted, 4);
  EXPECT_LE(admitted, 8) << "the burst is one second's worth";
  std::this_thread::sleep_for(1100ms);  // the rate's one-second window passing is the subject
  EXPECT_TRUE(Admitted("later"));
}

TEST_F(LimitsTest, ConnectTimeoutOnTcpAndTls) {
  std::string dir = TempDir("limits");
  Pki pki(dir);
  KeyPair server = pki.Issue("server", {.cn = "s", .server = true});
  StartBroker({"--connect-timeout-s=1", "--tls-listen=127.0.0.1:0",
               "--tls-cert-file=" + server.cert_file, "--tls-key-file=" + server.key_file});
  auto start = std::chrono::steady_clock::now();
  Client idle(TcpWire(broker_->port()), kV5);
  Client idle_tls(TcpWire(broker_->port("tls")), kV5);  // never starts the handshake
  idle.Send("\x10");  // a CONNECT that never completes (slowloris)
  EXPECT_TRUE(idle.ExpectClosed(3000ms));
  EXPECT_TRUE(idle_tls.ExpectClosed(3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);
}

// A WebSocket client that opens TCP and never finishes the HTTP upgrade (or, on the WSS
// port, never starts TLS, or finishes TLS and then stalls in HTTP) is closed after
// connect_timeout_s; a well-behaved WebSocket client is unaffected.
TEST_F(LimitsTest, ConnectTimeoutOnWebSocketAndWss) {
  std::string dir = TempDir("limits");
  Pki pki(dir);
  KeyPair server = pki.Issue("server", {.cn = "s", .server = true});
  StartBroker({"--connect-timeout-s=1", "--ws-listen=127.0.0.1:0", "--wss-listen=127.0.0.1:0",
               "--tls-cert-file=" + server.cert_file, "--tls-key-file=" + server.key_file,
               "--metrics-listen=127.0.0.1:0"});
  const uint16_t ws = broker_->port("ws"), wss = broker_->port("wss");
  ASSERT_NE(ws, 0);
  ASSERT_NE(wss, 0);
  std::string error;
  TlsClientOptions tls{.ca_file = pki.ca_file()};
  auto start = std::chrono::steady_clock::now();
  Client ws_silent(TcpWire(ws), kV5);                  // TCP only
  Client ws_partial(TcpWire(ws), kV5);                 // half an HTTP request
  ws_partial.Send("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
  Client wss_silent(TcpWire(wss), kV5);                // never starts TLS
  Client wss_partial(TlsWire(wss, tls, &error), kV5);  // TLS done, HTTP never finished
  ASSERT_TRUE(wss_partial.ok()) << error;
  wss_partial.Send("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  // Bounded generously (timeout 1 s): these wait on the close, they do not time it.
  EXPECT_TRUE(ws_silent.ExpectClosed(5000ms)) << "ws, TCP only";
  EXPECT_TRUE(ws_partial.ExpectClosed(5000ms)) << "ws, partial HTTP upgrade";
  EXPECT_TRUE(wss_silent.ExpectClosed(5000ms)) << "wss, no TLS";
  EXPECT_TRUE(wss_partial.ExpectClosed(5000ms)) << "wss, partial HTTP upgrade";
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms) << "closed before the timeout";
  // Each timeout is counted before its socket is closed.
  EXPECT_EQ(MetricValue(ScrapeMetrics(broker_->port("metrics")), "sluice_handshake_failures_total"),
            4);
  // A client that completes the upgrade and sends CONNECT in time stays connected.
  Client good(WsWire(ws, "/mqtt", "mqtt", nullptr, &error), kV5);
  ASSERT_TRUE(good.ok()) << error;
  EXPECT_EQ(good.Connect("ws-good").reason, 0);
  EXPECT_FALSE(broker_->Exited());
}

TEST_F(LimitsTest, PublishRateAndBytes) {
  StartBroker({"--max-publish-rate=5"});
  std::unique_ptr<Client> sub, pub;
  ASSERT_TRUE(Admitted("sub", &sub));
  sub->Send(c::Subscribe(kV5, 1, {{.filter = "r/#"}}));
  ASSERT_EQ(sub->ReadDecoded().type, c::kSuback);
  ASSERT_TRUE(Admitted("pub", &pub));
  int refused = 0;
  for (uint16_t i = 1; i <= 20; ++i) {
    pub->Send(c::Publish(kV5, {.topic = "r/t", .payload = "x", .qos = 1, .id = i}));
    Packet ack = pub->ReadDecoded();
    ASSERT_EQ(ack.type, c::kPuback);
    if (ack.reason == 0x97) ++refused;
  }
  EXPECT_GE(refused, 12);
  int delivered = 0;
  while (!sub->Read(300ms).empty()) ++delivered;
  EXPECT_EQ(delivered, 20 - refused) << "a refused publish was delivered";
  broker_.reset();

  StartBroker({"--max-publish-bytes-rate=1000"});
  ASSERT_TRUE(Admitted("pub", &pub));
  std::string payload(600, 'p');
  pub->Send(c::Publish(kV5, {.topic = "b", .payload = payload, .qos = 1, .id = 1}));
  EXPECT_LT(pub->ReadDecoded().reason, 0x80);
  pub->Send(c::Publish(kV5, {.topic = "b", .payload = payload, .qos = 1, .id = 2}));
  EXPECT_EQ(pub->ReadDecoded().reason, 0x97);
}

TEST_F(LimitsTest, SubscriptionsPerClient) {
  StartBroker({"--max-subscriptions-per-client=2"});
  std::unique_ptr<Client> c5;
  ASSERT_TRUE(Admitted("c5", &c5));
  c5->Send(c::Subscribe(kV5, 1, {{.filter = "a"}, {.filter = "b"}, {.filter = "c"}}));
  EXPECT_EQ(c5->ReadDecoded().reasons, (std::vector<uint8_t>{0, 0, 0x97}));
  c5->Send(c::Subscribe(kV5, 2, {{.filter = "a", .qos = 1}}));  // an existing one: replaced
  EXPECT_EQ(c5->ReadDecoded().reasons, (std::vector<uint8_t>{1}));
  Client c3(TcpWire(broker_->port()), kV311);
  ASSERT_EQ(c3.Connect("c3").reason, 0);
  c3.Send(c::Subscribe(kV311, 1, {{.filter = "a"}, {.filter = "b"}, {.filter = "c"}}));
  EXPECT_EQ(c3.ReadDecoded().reasons, (std::vector<uint8_t>{0, 0, 0x80}));
}

TEST_F(LimitsTest, TopicLengthAndLevels) {
  StartBroker({"--max-topic-length=16", "--max-topic-levels=3"});
  std::unique_ptr<Client> c5;
  ASSERT_TRUE(Admitted("c5", &c5));
  c5->Send(c::Publish(kV5, {.topic = "a/b/c", .qos = 1, .id = 1}));
  EXPECT_LT(c5->ReadDecoded().reason, 0x80);
  c5->Send(c::Publish(kV5, {.topic = "a/b/c/d", .qos = 1, .id = 2}));
  EXPECT_EQ(c5->ReadDecoded().reason, 0x90);
  c5->Send(c::Publish(kV5, {.topic = std::string(17, 'x'), .qos = 1, .id = 3}));
  EXPECT_EQ(c5->ReadDecoded().reason, 0x90);
  c5->Send(c::Subscribe(kV5, 4, {{.filter = "a/+/c"}, {.filter = "a/b/c/#"},
                                 {.filter = std::string(17, 'y')}}));
  EXPECT_EQ(c5->ReadDecoded().reasons, (std::vector<uint8_t>{0, 0x8F, 0x8F}));
}

}  // namespace
}  // namespace sluice::security_test
