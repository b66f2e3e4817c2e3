// PasswordFile: user names with salted PBKDF2-SHA512 hashes, one "user:hash" line each, in
// the format of Mosquitto 2's password files ("$7$ITERATIONS$SALT_BASE64$HASH_BASE64", a
// 64-byte hash), so files made by mosquitto_passwd work and ours work in Mosquitto. A line
// may instead hold SCRAM-SHA-256 credentials ("SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY",
// scram.h; Sluice-only): such a user can use MQTT 5 enhanced authentication and plain
// passwords. Blank lines and lines starting with '#' are ignored. User names contain no ':'
// or newline.
//
// Value type, immutable once loaded (the broker swaps whole snapshots on reload), so
// Verify may be called from any thread. Errors: Parse/Load name the line that is wrong.
#ifndef SLUICE_BROKER_AUTH_PASSWORD_FILE_H_
#define SLUICE_BROKER_AUTH_PASSWORD_FILE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "broker/auth/scram.h"

namespace sluice::auth {

inline constexpr int64_t kDefaultPbkdf2Iterations = 20000;

class PasswordFile {
 public:
  static absl::StatusOr<PasswordFile> Parse(std::string_view text);
  static absl::StatusOr<PasswordFile> Load(const std::string& path);

  bool HasUser(std::string_view user) const { return users_.count(std::string(user)) > 0; }
  // Constant-time comparison of the derived key. False for unknown users (after deriving a
  // key anyway, so the time does not tell whether the user exists).
  bool Verify(std::string_view user, std::string_view password) const;

  // The user's SCRAM-SHA-256 credentials, when the file holds them for this user.
  std::optional<ScramCredentials> Scram(std::string_view user) const;

  // Editing, for sluice-passwd. Set adds or replaces the user with a fresh random salt;
  // `scram` stores SCRAM-SHA-256 credentials instead of a PBKDF2-SHA512 hash.
  absl::Status Set(std::string_view user, std::string_view password, int64_t iterations,
                   bool scram = false);
  bool Remove(std::string_view user) { return users_.erase(std::string(user)) > 0; }
  std::string Serialize() const;
  size_t size() const { return users_.size(); }

  // Validates a user name for the file: non-empty, at most 65535 bytes, no ':' and no
  // control characters.
  static absl::Status CheckUserName(std::string_view user);

 private:
  struct Entry {
    std::optional<ScramCredentials> scram;  // set: a SCRAM line (the fields below unused)
    int64_t iterations = 0;
    std::string salt;  // raw bytes
    std::string hash;  // raw 64 bytes
  };
  static absl::StatusOr<Entry> ParseHash(std::string_view text);
  std::map<std::string, Entry> users_;
};

// Writes `text` to `path` atomically (temporary file, fsync, rename), mode 0600.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace sluice::auth

#endif  // SLUICE_BROKER_AUTH_PASSWORD_FILE_H_
