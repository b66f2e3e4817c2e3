// libFuzzer target for the JWT path (broker/auth/jwt.h): the hand-written JSON reader on
// arbitrary text, and JwtVerifier::Verify on arbitrary tokens with a fixed P-256 key (almost
// every input fails the signature; the point is no crash, hang or out-of-bounds read in the
// base64url/JSON/signature-conversion code). Also checks base64url round trips.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/check.h"
#include "broker/auth/jwt.h"

namespace {

std::shared_ptr<const sluice::auth::JwtVerifier> MakeVerifier() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  char path[] = "/tmp/jwt_fuzz_keyXXXXXX";
  int fd = mkstemp(path);
  FILE* f = fdopen(fd, "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  auto v = sluice::auth::JwtVerifier::Load(path, "aud");
  unlink(path);
  SLUICE_CHECK(v.ok());
  return *v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) SLUICE_CHECK(chdir(dir) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::auth;
  static auto verifier = MakeVerifier();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t keys = 0;
  ParseJwtJsonForFuzzing(in, &keys);
  SLUICE_CHECK(keys <= 64);
  (void)JwtVerifier::LooksLikeJwt(in);
  (void)verifier->Verify(in, 1700000000);
  // A token whose header and claims are the input, signature garbage.
  std::string token = Base64UrlEncode(in) + "." + Base64UrlEncode(in) + "." + Base64UrlEncode(in);
  (void)verifier->Verify(token, 1700000000);
  std::string raw;
  SLUICE_CHECK(Base64UrlDecode(Base64UrlEncode(in), &raw) && raw == in);
  return 0;
}
