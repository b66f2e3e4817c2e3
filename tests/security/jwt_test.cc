// JWT (RS256 / ES256) in the CONNECT password field against real sluiced: keys and tokens
// are made by the test with OpenSSL.
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <ctime>

#include <gtest/gtest.h>

#include "broker/auth/jwt.h"
#include "tests/security/support.h"

namespace sluice::security_test {
namespace {

using conformance::kV311;
using conformance::kV5;
namespace c = conformance;

struct Signer {
  EVP_PKEY* key = nullptr;
  bool ec = false;
  ~Signer() { EVP_PKEY_free(key); }
  void WritePublic(const std::string& path) const {
    FILE* f = std::fopen(path.c_str(), "w");
    PEM_write_PUBKEY(f, key);
    std::fclose(f);
  }
  std::string Sign(const std::string& header_json, const std::string& claims_json) const {
    std::string input = auth::Base64UrlEncode(header_json) + "." + auth::Base64UrlEncode(claims_json);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (ec) {  // DER → raw r||s (JWS)
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(s);
      sig = raw;
    }
    return input + "." + auth::Base64UrlEncode(sig);
  }
  std::string Token(const std::string& sub, long exp_offset_s, const std::string& extra = "") const {
    long now = static_cast<long>(std::time(nullptr));
    std::string claims = "{\"sub\":\"" + sub + "\",\"exp\":" + std::to_string(now + exp_offset_s) +
                         ",\"iat\":" + std::to_string(now) + extra + "}";
    return Sign(std::string("{\"alg\":\"") + (ec ? "ES256" : "RS256") + "\",\"typ\":\"JWT\"}", claims);
  }
};

class JwtTest : public ::testing::Test {
 protected:
  void Start(Signer* signer, bool ec, const std::string& audience = "") {
    signer->ec = ec;
    signer->key = ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    std::string dir = TempDir("jwt");
    signer->WritePublic(dir + "/jwt.pem");
    std::string acl = dir + "/acl.yaml";
    WriteFile(acl, "rules:\n  - user: \"*\"\n    allow_publish: [\"devices/%u/#\"]\n");
    std::vector<std::string> flags = {"--jwt-public-key-file=" + dir + "/jwt.pem",
                                      "--allow-anonymous=false", "--acl-file=" + acl};
    if (!audience.empty()) flags.push_back("--jwt-audience=" + audience);
    std::string error;
    broker_ = Broker::Start(flags, &error);
    ASSERT_TRUE(broker_) << error;
  }
  uint8_t Code(Version v, std::optional<std::string> user, const std::string& token) {
    Client client(TcpWire(broker_->port()), v);
    Packet p = client.Connect("jwt-client", std::move(user), token);
    EXPECT_EQ(p.type, c::kConnack);
    return p.reason;
  }
  std::unique_ptr<Broker> broker_;
};

TEST_F(JwtTest, Rs256TokensAuthenticateTheirSubject) {
  Signer s;
  Start(&s, false);
  EXPECT_EQ(Code(kV5, "dev-1", s.Token("dev-1", 600)), 0);
  EXPECT_EQ(Code(kV5, std::nullopt, s.Token("dev-1", 600)), 0) << "5.0: password without user";
  EXPECT_EQ(Code(kV311, "dev-1", s.Token("dev-1", 600)), 0);
  EXPECT_EQ(Code(kV5, "dev-2", s.Token("dev-1", 600)), 0x86) << "user name is not the subject";
  EXPECT_EQ(Code(kV5, "dev-1", s.Token("dev-1", -10)), 0x86) << "expired";
  EXPECT_EQ(Code(kV311, "dev-1", s.Token("dev-1", -10)), 4);
  EXPECT_EQ(Code(kV5, "dev-1", s.Token("dev-1", 600, ",\"nbf\":99999999999")), 0x86);
  std::string token = s.Token("dev-1", 600);
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Code(kV5, "dev-1", token), 0x86) << "tampered signature";
  // alg "none" and HS256 (key confusion) are refused.
  std::string none = auth::Base64UrlEncode("{\"alg\":\"none\"}") + "." +
                     auth::Base64UrlEncode("{\"sub\":\"dev-1\",\"exp\":99999999999}") + ".";
  EXPECT_EQ(Code(kV5, "dev-1", none), 0x86);
  EXPECT_EQ(Code(kV5, "dev-1", s.Sign("{\"alg\":\"HS256\"}", "{\"sub\":\"dev-1\",\"exp\":99999999999}")), 0x86);
  // Another key's token.
  Signer other;
  other.key = EVP_RSA_gen(2048);
  EXPECT_EQ(Code(kV5, "dev-1", other.Token("dev-1", 600)), 0x86);
  // The subject is the session's user name for the ACL.
  Client client(TcpWire(broker_->port()), kV5);
  ASSERT_EQ(client.Connect("acl", std::nullopt, s.Token("dev-7", 600)).reason, 0);
  client.Send(c::Publish(kV5, {.topic = "devices/dev-7/t", .qos = 1, .id = 1}));
  EXPECT_LT(client.ReadDecoded().reason, 0x80);
  client.Send(c::Publish(kV5, {.topic = "devices/dev-8/t", .qos = 1, .id = 2}));
  EXPECT_EQ(client.ReadDecoded().reason, 0x87);
}

TEST_F(JwtTest, Es256TokensAndAudience) {
  Signer s;
  Start(&s, true, "sluice");
  EXPECT_EQ(Code(kV5, "d", s.Token("d", 600, ",\"aud\":\"sluice\"")), 0);
  EXPECT_EQ(Code(kV5, "d", s.Token("d", 600, ",\"aud\":[\"x\",\"sluice\"]")), 0);
  EXPECT_EQ(Code(kV5, "d", s.Token("d", 600, ",\"aud\":\"other\"")), 0x86);
  EXPECT_EQ(Code(kV5, "d", s.Token("d", 600)), 0x86) << "no audience";
}

}  // namespace
}  // namespace sluice::security_test
