#include "broker/auth/password_file.h"
#include "broker/auth/scram.h"  // Base64Encode/Base64Decode

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace sluice::auth {

namespace {

constexpr size_t kHashBytes = 64;
constexpr size_t kSaltBytes = 16;
constexpr int64_t kMaxIterations = 10'000'000;


std::string Derive(std::string_view password, const std::string& salt, int64_t iterations) {
  std::string key(kHashBytes, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha512(),
                    static_cast<int>(kHashBytes), reinterpret_cast<unsigned char*>(key.data()));
  return key;
}

}  // namespace

absl::Status PasswordFile::CheckUserName(std::string_view user) {
  if (user.empty()) return absl::InvalidArgumentError("user name is empty");
  if (user.size() > 65535) return absl::InvalidArgumentError("user name longer than 65535 bytes");
  for (char c : user) {
    if (c == ':') return absl::InvalidArgumentError("user name contains ':'");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return absl::InvalidArgumentError("user name contains a control character");
  }
  return absl::OkStatus();
}

absl::StatusOr<PasswordFile::Entry> PasswordFile::ParseHash(std::string_view text) {
  if (text.substr(0, 14) == "SCRAM-SHA-256$") {
    auto scram = ScramCredentials::Parse(text);
    if (!scram.ok()) return scram.status();
    Entry e;
    e.scram = *std::move(scram);
    return e;
  }
  // $7$ITERATIONS$SALT$HASH
  if (text.substr(0, 3) != "$7$")
    return absl::InvalidArgumentError("hash must start with $7$ (PBKDF2-SHA512)");
  text.remove_prefix(3);
  size_t d1 = text.find('$');
  if (d1 == std::string_view::npos) return absl::InvalidArgumentError("missing salt");
  size_t d2 = text.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return absl::InvalidArgumentError("missing hash");
  Entry e;
  std::string iterations(text.substr(0, d1));
  char* end = nullptr;
  e.iterations = std::strtoll(iterations.c_str(), &end, 10);
  if (iterations.empty() || *end != '\0' || e.iterations < 1 || e.iterations > kMaxIterations)
    return absl::InvalidArgumentError("bad iteration count '" + iterations + "'");
  if (!Base64Decode(text.substr(d1 + 1, d2 - d1 - 1), &e.salt) || e.salt.empty())
    return absl::InvalidArgumentError("salt is not base64");
  if (!Base64Decode(text.substr(d2 + 1), &e.hash) || e.hash.size() != kHashBytes)
    return absl::InvalidArgumentError("hash is not 64 bytes of base64");
  return e;
}

absl::StatusOr<PasswordFile> PasswordFile::Parse(std::string_view text) {
  PasswordFile file;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto fail = [&](std::string_view why) {
      return absl::InvalidArgumentError("password file line " + std::to_string(line_no) + ": " +
                                        std::string(why));
    };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail("expected user:hash");
    std::string_view user = line.substr(0, colon);
    if (absl::Status st = CheckUserName(user); !st.ok()) return fail(std::string(st.message()));
    auto entry = ParseHash(line.substr(colon + 1));
    if (!entry.ok()) return fail(std::string(entry.status().message()));
    if (!file.users_.emplace(std::string(user), *std::move(entry)).second)
      return fail("user '" + std::string(user) + "' appears twice");
  }
  return file;
}

absl::StatusOr<PasswordFile> PasswordFile::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read password file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  auto file = Parse(ss.str());
  if (!file.ok())
    return absl::InvalidArgumentError(path + ": " + std::string(file.status().message()));
  return file;
}

bool PasswordFile::Verify(std::string_view user, std::string_view password) const {
  auto it = users_.find(std::string(user));
  if (it == users_.end()) {
    // Same work as a real check, so the response time does not reveal unknown users.
    static const std::string kSalt(kSaltBytes, 'x');
    Derive(password, kSalt, kDefaultPbkdf2Iterations);
    return false;
  }
  if (it->second.scram) return it->second.scram->VerifyPassword(password);
  std::string key = Derive(password, it->second.salt, it->second.iterations);
  return CRYPTO_memcmp(key.data(), it->second.hash.data(), kHashBytes) == 0;
}

std::optional<ScramCredentials> PasswordFile::Scram(std::string_view user) const {
  auto it = users_.find(std::string(user));
  if (it == users_.end()) return std::nullopt;
  return it->second.scram;
}

absl::Status PasswordFile::Set(std::string_view user, std::string_view password,
                               int64_t iterations, bool scram) {
  if (absl::Status st = CheckUserName(user); !st.ok()) return st;
  if (password.empty()) return absl::InvalidArgumentError("password is empty");
  if (password.size() > 65535) return absl::InvalidArgumentError("password longer than 65535 bytes");
  if (iterations < 1000 || iterations > kMaxIterations)
    return absl::InvalidArgumentError("iterations must be within 1000..10000000");
  Entry e;
  e.iterations = iterations;
  e.salt.resize(kSaltBytes);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(e.salt.data()), kSaltBytes) != 1)
    return absl::InternalError("no randomness for the salt");
  if (scram) {
    e.scram = ScramCredentials::Make(password, e.salt, iterations);
  } else {
    e.hash = Derive(password, e.salt, iterations);
  }
  users_[std::string(user)] = std::move(e);
  return absl::OkStatus();
}

std::string PasswordFile::Serialize() const {
  std::string out;
  for (const auto& [user, e] : users_) {
    if (e.scram) {
      out += user + ":" + e.scram->Serialize() + "\n";
    } else {
      out += user + ":$7$" + std::to_string(e.iterations) + "$" + Base64Encode(e.salt) + "$" +
             Base64Encode(e.hash) + "\n";
    }
  }
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError("cannot write '" + tmp + "'");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError("cannot write '" + tmp + "'");
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError("cannot replace '" + path + "'");
  }
  return absl::OkStatus();
}

}  // namespace sluice::auth
