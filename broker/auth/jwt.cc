#include "broker/auth/jwt.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace sluice::auth {

namespace {

// A minimal JSON reader for a token's header and claims: a flat object whose values are
// strings, numbers, booleans, null, or arrays of strings (nested objects are skipped).
// Bounded: at most 64 members, input at most 8 KiB, nesting at most 8.
struct JsonValue {
  enum class Kind { kString, kNumber, kOther, kStringArray } kind = Kind::kOther;
  std::string string;
  double number = 0;
  std::vector<std::string> strings;
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  bool ReadObject(std::map<std::string, JsonValue>* out) {
    if (s_.size() > 8192) return false;
    Ws();
    if (!Eat('{')) return false;
    Ws();
    if (Eat('}')) return End();
    while (true) {
      std::string key;
      Ws();
      if (!String(&key)) return false;
      Ws();
      if (!Eat(':')) return false;
      Ws();
      JsonValue v;
      if (!Value(&v, 0)) return false;
      if (out->size() >= 64 || !out->emplace(std::move(key), std::move(v)).second) return false;
      Ws();
      if (Eat('}')) return End();
      if (!Eat(',')) return false;
    }
  }

 private:
  bool End() {
    Ws();
    return i_ == s_.size();
  }
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          if (i_ + 4 > s_.size()) return false;
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= h - '0';
            else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
            else return false;
          }
          // BMP code points as UTF-8; surrogates are kept as-is (not needed for claims).
          if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool Value(JsonValue* v, int depth) {
    if (depth > 8 || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') {
      v->kind = JsonValue::Kind::kString;
      return String(&v->string);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i_;
      while (i_ < s_.size() && (std::string_view("+-.eE0123456789").find(s_[i_]) != std::string_view::npos)) ++i_;
      std::string text(s_.substr(start, i_ - start));
      char* end = nullptr;
      v->number = std::strtod(text.c_str(), &end);
      v->kind = JsonValue::Kind::kNumber;
      return end && *end == '\0';
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return true;
      }
    }
    if (c == '[') {
      ++i_;
      Ws();
      bool all_strings = true;
      std::vector<std::string> strings;
      if (Eat(']')) {
        v->kind = JsonValue::Kind::kStringArray;
        return true;
      }
      while (true) {
        Ws();
        JsonValue item;
        if (!Value(&item, depth + 1)) return false;
        if (item.kind == JsonValue::Kind::kString) strings.push_back(item.string);
        else all_strings = false;
        Ws();
        if (Eat(']')) break;
        if (!Eat(',')) return false;
      }
      if (all_strings) {
        v->kind = JsonValue::Kind::kStringArray;
        v->strings = std::move(strings);
      }
      return true;
    }
    if (c == '{') {
      ++i_;
      Ws();
      if (Eat('}')) return true;
      while (true) {
        Ws();
        std::string key;
        if (!String(&key)) return false;
        Ws();
        if (!Eat(':')) return false;
        Ws();
        JsonValue inner;
        if (!Value(&inner, depth + 1)) return false;
        Ws();
        if (Eat('}')) return true;
        if (!Eat(',')) return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool ParseJwtJsonForFuzzing(std::string_view json, size_t* keys) {
  std::map<std::string, JsonValue> object;
  bool ok = JsonReader(json).ReadObject(&object);
  *keys = object.size();
  return ok;
}

bool Base64UrlDecode(std::string_view text, std::string* raw) {
  if (text.size() > 16384) return false;
  std::string b64(text);
  for (char& c : b64) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return false;
  }
  if (b64.size() % 4 == 1) return false;
  while (b64.size() % 4) b64.push_back('=');
  if (b64.empty()) {
    raw->clear();
    return true;
  }
  std::string out(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (b64.back() == '=') ++pad;
  if (b64[b64.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  *raw = std::move(out);
  return true;
}

std::string Base64UrlEncode(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const JwtVerifier>> JwtVerifier::Load(const std::string& path,
                                                                      std::string audience) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return absl::NotFoundError("cannot read jwt_public_key_file '" + path + "'");
  EVP_PKEY* key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!key)
    return absl::InvalidArgumentError("jwt_public_key_file '" + path +
                                      "': not a PEM public key");
  std::shared_ptr<JwtVerifier> v(new JwtVerifier);
  v->key_ = key;
  v->audience_ = std::move(audience);
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048)
      return absl::InvalidArgumentError("jwt_public_key_file: RSA keys need >= 2048 bits");
  } else if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &len);
    if (std::string_view(group) != "prime256v1")
      return absl::InvalidArgumentError("jwt_public_key_file: EC keys must be P-256 (ES256)");
    v->ec_ = true;
  } else {
    return absl::InvalidArgumentError("jwt_public_key_file: expected an RSA or P-256 key");
  }
  return std::shared_ptr<const JwtVerifier>(std::move(v));
}

JwtVerifier::~JwtVerifier() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

bool JwtVerifier::LooksLikeJwt(std::string_view text) {
  size_t dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_')) {
      return false;
    }
  }
  return dots == 2 && text.size() >= 5;
}

absl::StatusOr<std::string> JwtVerifier::Verify(std::string_view token, int64_t now_s) const {
  if (token.size() > 8192) return absl::InvalidArgumentError("token too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return absl::InvalidArgumentError("not a JWS compact token");
  std::string header_json, claims_json, signature;
  if (!Base64UrlDecode(token.substr(0, d1), &header_json) ||
      !Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1), &claims_json) ||
      !Base64UrlDecode(token.substr(d2 + 1), &signature))
    return absl::InvalidArgumentError("bad base64url");
  std::map<std::string, JsonValue> header, claims;
  if (!JsonReader(header_json).ReadObject(&header)) return absl::InvalidArgumentError("bad header");
  auto alg = header.find("alg");
  const char* want = ec_ ? "ES256" : "RS256";
  if (alg == header.end() || alg->second.kind != JsonValue::Kind::kString ||
      alg->second.string != want)
    return absl::PermissionDeniedError(std::string("alg must be ") + want);
  if (header.count("crit")) return absl::PermissionDeniedError("crit header not supported");

  // Signature over "header.claims".
  std::string der;
  if (ec_) {
    if (signature.size() != 64) return absl::PermissionDeniedError("bad ES256 signature size");
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    if (len > 0) der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    ECDSA_SIG_free(sig);
    signature = der;
  }
  std::string_view signed_part = token.substr(0, d2);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                 static_cast<EVP_PKEY*>(key_)) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::PermissionDeniedError("signature does not verify");

  if (!JsonReader(claims_json).ReadObject(&claims)) return absl::InvalidArgumentError("bad claims");
  auto number = [&](const char* name) -> std::optional<double> {
    auto it = claims.find(name);
    if (it == claims.end() || it->second.kind != JsonValue::Kind::kNumber) return std::nullopt;
    return it->second.number;
  };
  auto exp = number("exp");
  if (!exp) return absl::PermissionDeniedError("no exp claim");
  if (*exp <= static_cast<double>(now_s)) return absl::PermissionDeniedError("token expired");
  if (claims.count("nbf")) {
    auto nbf = number("nbf");
    if (!nbf || *nbf > static_cast<double>(now_s))
      return absl::PermissionDeniedError("token not yet valid");
  }
  if (!audience_.empty()) {
    auto it = claims.find("aud");
    bool match = it != claims.end() &&
                 ((it->second.kind == JsonValue::Kind::kString && it->second.string == audience_) ||
                  (it->second.kind == JsonValue::Kind::kStringArray &&
                   std::find(it->second.strings.begin(), it->second.strings.end(), audience_) !=
                       it->second.strings.end()));
    if (!match) return absl::PermissionDeniedError("audience mismatch");
  }
  auto sub = claims.find("sub");
  if (sub == claims.end() || sub->second.kind != JsonValue::Kind::kString ||
      sub->second.string.empty())
    return absl::PermissionDeniedError("no sub claim");
  return sub->second.string;
}

}  // namespace sluice::auth
