#include "broker/auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace sluice::auth {

namespace {

constexpr int64_t kMaxIterations = 10'000'000;

// "k=value" attributes separated by ','.
std::optional<std::string_view> Attribute(std::string_view message, char key) {
  while (!message.empty()) {
    size_t comma = message.find(',');
    std::string_view item = message.substr(0, comma);
    if (item.size() >= 2 && item[0] == key && item[1] == '=') return item.substr(2);
    if (comma == std::string_view::npos) break;
    message.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

std::string Xor(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// RFC 5802 saslname: "=2C" is ',', "=3D" is '='.
std::optional<std::string> DecodeSaslName(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=') {
      if (s.substr(i, 3) == "=2C") out.push_back(',');
      else if (s.substr(i, 3) == "=3D") out.push_back('=');
      else return std::nullopt;
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* raw) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return false;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  *raw = std::move(out);
  return true;
}

std::string ScramHmac(std::string_view key, std::string_view data) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string ScramSha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

std::string ScramSaltedPassword(std::string_view password, std::string_view salt,
                                int64_t iterations) {
  std::string out(32, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(), 32,
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

ScramCredentials ScramCredentials::Make(std::string_view password, std::string salt,
                                        int64_t iterations) {
  ScramCredentials c;
  c.iterations = iterations;
  std::string salted = ScramSaltedPassword(password, salt, iterations);
  c.salt = std::move(salt);
  c.stored_key = ScramSha256(ScramHmac(salted, "Client Key"));
  c.server_key = ScramHmac(salted, "Server Key");
  return c;
}

std::string ScramCredentials::Serialize() const {
  return std::string(kScramMethod) + "$" + std::to_string(iterations) + ":" + Base64Encode(salt) +
         "$" + Base64Encode(stored_key) + ":" + Base64Encode(server_key);
}

absl::StatusOr<ScramCredentials> ScramCredentials::Parse(std::string_view text) {
  const std::string_view prefix = "SCRAM-SHA-256$";
  if (text.substr(0, prefix.size()) != prefix)
    return absl::InvalidArgumentError("expected SCRAM-SHA-256$");
  text.remove_prefix(prefix.size());
  size_t colon1 = text.find(':'), dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || colon1 > dollar)
    return absl::InvalidArgumentError("expected ITER:SALT$STOREDKEY:SERVERKEY");
  size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos)
    return absl::InvalidArgumentError("expected STOREDKEY:SERVERKEY");
  ScramCredentials c;
  std::string iterations(text.substr(0, colon1));
  char* end = nullptr;
  c.iterations = std::strtoll(iterations.c_str(), &end, 10);
  if (iterations.empty() || *end != '\0' || c.iterations < 1 || c.iterations > kMaxIterations)
    return absl::InvalidArgumentError("bad iteration count '" + iterations + "'");
  if (!Base64Decode(text.substr(colon1 + 1, dollar - colon1 - 1), &c.salt) || c.salt.empty())
    return absl::InvalidArgumentError("salt is not base64");
  if (!Base64Decode(text.substr(dollar + 1, colon2 - dollar - 1), &c.stored_key) ||
      c.stored_key.size() != 32 || !Base64Decode(text.substr(colon2 + 1), &c.server_key) ||
      c.server_key.size() != 32)
    return absl::InvalidArgumentError("keys are not 32 bytes of base64");
  return c;
}

bool ScramCredentials::VerifyPassword(std::string_view password) const {
  std::string stored =
      ScramSha256(ScramHmac(ScramSaltedPassword(password, salt, iterations), "Client Key"));
  return CRYPTO_memcmp(stored.data(), stored_key.data(), 32) == 0;
}

absl::StatusOr<std::string> ScramServer::Start(std::string_view client_first,
                                               const Lookup& lookup) {
  if (started_) return absl::FailedPreconditionError("exchange already started");
  started_ = true;
  // GS2 header: "n,," or "y,," (no channel binding), no authzid.
  if (client_first.size() > 4096) return absl::InvalidArgumentError("client-first too long");
  if (client_first.substr(0, 3) != "n,," && client_first.substr(0, 3) != "y,,")
    return absl::InvalidArgumentError("unsupported GS2 header (channel binding or authzid)");
  client_first_bare_ = std::string(client_first.substr(3));
  auto n = Attribute(client_first_bare_, 'n');
  auto r = Attribute(client_first_bare_, 'r');
  if (!n || !r || r->empty() || client_first_bare_.substr(0, 2) != "n=")
    return absl::InvalidArgumentError("client-first needs n= and r=");
  if (r->find(',') != std::string_view::npos) return absl::InvalidArgumentError("bad nonce");
  auto user = DecodeSaslName(*n);
  if (!user || user->empty()) return absl::InvalidArgumentError("bad user name");
  user_ = *user;
  std::optional<ScramCredentials> creds = lookup(user_);
  known_user_ = creds.has_value();
  if (!known_user_) {
    // Fake but stable-looking credentials; the proof check will fail.
    std::string fake_salt = ScramHmac("sluice-unknown-user", user_).substr(0, 16);
    creds = ScramCredentials{4096, fake_salt, std::string(32, '\0'), std::string(32, '\0')};
  }
  credentials_ = *creds;
  unsigned char random[18];
  RAND_bytes(random, sizeof random);
  nonce_ = std::string(*r) + Base64Encode(std::string_view(reinterpret_cast<char*>(random), sizeof random));
  server_first_ = "r=" + nonce_ + ",s=" + Base64Encode(credentials_.salt) +
                  ",i=" + std::to_string(credentials_.iterations);
  return server_first_;
}

absl::StatusOr<std::string> ScramServer::Finish(std::string_view client_final) {
  if (!started_ || server_first_.empty())
    return absl::FailedPreconditionError("exchange not started");
  if (client_final.size() > 4096) return absl::InvalidArgumentError("client-final too long");
  size_t proof_at = client_final.rfind(",p=");
  if (proof_at == std::string_view::npos) return absl::InvalidArgumentError("no proof");
  std::string_view without_proof = client_final.substr(0, proof_at);
  auto c = Attribute(without_proof, 'c');
  auto r = Attribute(without_proof, 'r');
  if (!c || !r) return absl::InvalidArgumentError("client-final needs c= and r=");
  if (*c != "biws" && *c != "eSws") return absl::InvalidArgumentError("channel binding mismatch");
  if (*r != nonce_) return absl::PermissionDeniedError("nonce mismatch");
  std::string proof;
  if (!Base64Decode(client_final.substr(proof_at + 3), &proof) || proof.size() != 32)
    return absl::InvalidArgumentError("proof is not 32 bytes of base64");
  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::string client_signature = ScramHmac(credentials_.stored_key, auth_message);
  std::string client_key = Xor(proof, client_signature);
  std::string stored = ScramSha256(client_key);
  bool ok = CRYPTO_memcmp(stored.data(), credentials_.stored_key.data(), 32) == 0;
  if (!ok || !known_user_) return absl::PermissionDeniedError("wrong proof");
  return "v=" + Base64Encode(ScramHmac(credentials_.server_key, auth_message));
}

}  // namespace sluice::auth
