// JwtVerifier: JSON Web Tokens (RFC 7519) in the CONNECT password field, signed RS256 or
// ES256 (RFC 7518) by the holder of a configured private key; the broker holds the public
// key. A token is accepted when its signature verifies with that key and algorithm (the
// header's "alg" must match the key type: no "none", no HMAC, no algorithm confusion), "exp"
// is present and in the future, "nbf" (if any) is not in the future, "aud" contains the
// configured audience (when one is configured), and "sub" is a non-empty string — the MQTT
// user name of the session.
//
// Thread-safety: immutable after Load; Verify from any thread. Errors: Load names the key
// file; Verify says why a token is refused (for the log, not for the client).
#ifndef SLUICE_BROKER_AUTH_JWT_H_
#define SLUICE_BROKER_AUTH_JWT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice::auth {

class JwtVerifier {
 public:
  static absl::StatusOr<std::shared_ptr<const JwtVerifier>> Load(const std::string& public_key_pem_file,
                                                                 std::string audience);
  ~JwtVerifier();

  // The token's "sub" when it is valid at `now_s` (seconds since the epoch).
  absl::StatusOr<std::string> Verify(std::string_view token, int64_t now_s) const;
  // Cheap shape check: three base64url parts separated by dots.
  static bool LooksLikeJwt(std::string_view text);

 private:
  JwtVerifier() = default;
  void* key_ = nullptr;  // EVP_PKEY*
  bool ec_ = false;      // ES256 (P-256) key, else RS256 (RSA)
  std::string audience_;
};

// The token JSON reader alone (for the fuzz target): true when `json` is an object it
// accepts; *keys gets the member count.
bool ParseJwtJsonForFuzzing(std::string_view json, size_t* keys);

// base64url without padding (RFC 7515 section 2).
bool Base64UrlDecode(std::string_view text, std::string* raw);
std::string Base64UrlEncode(std::string_view raw);

}  // namespace sluice::auth

#endif  // SLUICE_BROKER_AUTH_JWT_H_
