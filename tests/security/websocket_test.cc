// MQTT over WebSocket and WebSocket over TLS, with a Boost.Beast client (support.h).
#include <gtest/gtest.h>

#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

class WebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("ws");
    pki_ = std::make_unique<Pki>(dir_);
    server_ = pki_->Issue("server", {.cn = "ws-server", .server = true});
    std::string error;
    broker_ = Broker::Start({"--threads=4", "--ws-listen=127.0.0.1:0", "--wss-listen=127.0.0.1:0",
                             "--ws-path=/mqtt", "--tls-cert-file=" + server_.cert_file,
                             "--tls-key-file=" + server_.key_file},
                            &error);
    ASSERT_TRUE(broker_) << error;
    ASSERT_NE(broker_->port("ws"), 0);
    ASSERT_NE(broker_->port("wss"), 0);
    tls_.ca_file = pki_->ca_file();
  }
  std::unique_ptr<Client> Ws(Version v, bool secure) {
    std::string error;
    auto wire = WsWire(broker_->port(secure ? "wss" : "ws"), "/mqtt", "mqtt",
                       secure ? &tls_ : nullptr, &error);
    EXPECT_TRUE(wire) << error;
    return std::make_unique<Client>(std::move(wire), v);
  }
  std::string dir_;
  std::unique_ptr<Pki> pki_;
  KeyPair server_;
  TlsClientOptions tls_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(WebSocketTest, PublishAndSubscribeBetweenWsWssAndTcp) {
  std::vector<std::unique_ptr<Client>> subs;
  for (int i = 0; i < 6; ++i) {
    auto s = Ws(i % 2 ? kV311 : kV5, i >= 3);
    ASSERT_EQ(s->Connect("ws-sub-" + std::to_string(i)).reason, 0);
    s->Send(c::Subscribe(s->version(), 1, {{.filter = "ws/#"}}));
    ASSERT_EQ(s->ReadDecoded().type, c::kSuback);
    subs.push_back(std::move(s));
  }
  Client tcp(TcpWire(broker_->port()), kV5);
  ASSERT_EQ(tcp.Connect("tcp").reason, 0);
  tcp.Send(c::Subscribe(kV5, 1, {{.filter = "ws/#"}}));
  ASSERT_EQ(tcp.ReadDecoded().type, c::kSuback);
  tcp.Send(c::Publish(kV5, {.topic = "ws/a", .payload = "from tcp"}));
  for (auto& s : subs) EXPECT_EQ(s->ReadDecoded().payload, "from tcp");
  EXPECT_EQ(tcp.ReadDecoded().payload, "from tcp");
  std::string big(300000, 'w');
  subs[4]->Send(c::Publish(kV5, {.topic = "ws/big", .payload = big}));
  EXPECT_EQ(tcp.ReadDecoded().payload, big);
  for (auto& s : subs) EXPECT_EQ(s->ReadDecoded().payload, big);
  // One MQTT packet split over two WebSocket messages is reassembled.
  Bytes packet = c::Publish(kV311, {.topic = "ws/split", .payload = "joined"});
  subs[1]->Send(packet.substr(0, 5));
  subs[1]->Send(packet.substr(5));
  EXPECT_EQ(tcp.ReadDecoded().payload, "joined");
}

TEST_F(WebSocketTest, UpgradeNeedsPathAndMqttSubprotocol) {
  std::string error;
  EXPECT_FALSE(WsWire(broker_->port("ws"), "/other", "mqtt", nullptr, &error));
  EXPECT_NE(error.find("404"), std::string::npos) << error;
  EXPECT_FALSE(WsWire(broker_->port("ws"), "/mqtt", "", nullptr, &error));
  EXPECT_FALSE(WsWire(broker_->port("ws"), "/mqtt", "chat", nullptr, &error));
  EXPECT_TRUE(WsWire(broker_->port("ws"), "/mqtt", "chat, mqtt", nullptr, &error)) << error;
  // Plain HTTP or raw MQTT on the WebSocket port: closed, broker unharmed.
  Client raw(TcpWire(broker_->port("ws")), kV5);
  raw.Connect("raw");
  EXPECT_TRUE(raw.ExpectClosed());
  Client http(TcpWire(broker_->port("ws")), kV5);
  http.Send("GET /mqtt HTTP/1.1\r\nHost: x\r\n" + std::string(20000, 'A') + "\r\n\r\n");
  EXPECT_TRUE(http.ExpectClosed()) << "an oversized HTTP request header";
  EXPECT_FALSE(broker_->Exited());
  EXPECT_EQ(Ws(kV5, false)->Connect("after").reason, 0);
}

}  // namespace
}  // namespace sluice::security_test
