// SCRAM-SHA-256 (RFC 5802, RFC 7677) for MQTT 5 enhanced authentication: credentials and the
// server side of the exchange. Pure (OpenSSL for the primitives, no I/O).
//
// Exchange over MQTT 5 (Authentication Method "SCRAM-SHA-256"):
//   CONNECT  auth data = client-first   "n,,n=USER,r=CNONCE"
//   AUTH 0x18 (server)  = server-first  "r=CNONCE+SNONCE,s=SALT,i=ITERATIONS"
//   AUTH 0x18 (client)  = client-final  "c=biws,r=CNONCE+SNONCE,p=PROOF"
//   CONNACK 0x00        = server-final  "v=SERVER_SIGNATURE"
// Channel binding is not supported ("n,," / "y,," GS2 headers only); SASLprep is not applied
// (user names and passwords are compared as bytes).
//
// Credentials are stored like PostgreSQL's: "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY"
// (base64), so the server never holds the password; such an entry also verifies a plain
// CONNECT password (password_file.h).
//
// Thread-safety: ScramCredentials are values; one ScramServer per exchange, one thread.
#ifndef SLUICE_BROKER_AUTH_SCRAM_H_
#define SLUICE_BROKER_AUTH_SCRAM_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::auth {

inline constexpr char kScramMethod[] = "SCRAM-SHA-256";

struct ScramCredentials {
  int64_t iterations = 0;
  std::string salt;        // raw
  std::string stored_key;  // raw, 32 bytes: SHA-256(ClientKey)
  std::string server_key;  // raw, 32 bytes: HMAC(SaltedPassword, "Server Key")

  static ScramCredentials Make(std::string_view password, std::string salt, int64_t iterations);
  // "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY"
  std::string Serialize() const;
  static absl::StatusOr<ScramCredentials> Parse(std::string_view text);
  // Constant-time check of a plain password against these credentials.
  bool VerifyPassword(std::string_view password) const;
};

// Shared primitives (also used by tests to play the client).
std::string ScramHmac(std::string_view key, std::string_view data);
std::string ScramSha256(std::string_view data);
std::string ScramSaltedPassword(std::string_view password, std::string_view salt,
                                int64_t iterations);
std::string Base64Encode(std::string_view raw);
bool Base64Decode(std::string_view text, std::string* raw);

class ScramServer {
 public:
  // Credentials of a user; nullopt for an unknown user (the exchange then continues with
  // fake credentials and fails at the proof, so unknown users are not revealed early).
  using Lookup = std::function<std::optional<ScramCredentials>(const std::string& user)>;

  // Parses client-first; returns server-first. Errors: malformed message.
  absl::StatusOr<std::string> Start(std::string_view client_first, const Lookup& lookup);
  // Parses client-final and checks the proof; returns server-final. Errors: malformed
  // message, nonce mismatch, wrong proof (unknown user or wrong password).
  absl::StatusOr<std::string> Finish(std::string_view client_final);
  const std::string& user() const { return user_; }

 private:
  std::string user_;
  std::string client_first_bare_, server_first_, nonce_;
  ScramCredentials credentials_;
  bool known_user_ = false;
  bool started_ = false;
};

}  // namespace sluice::auth

#endif  // SLUICE_BROKER_AUTH_SCRAM_H_
