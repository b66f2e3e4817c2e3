// Security: the broker's TLS/WebSocket listeners, accept-time admission (connection limits),
// the password file and the ACL, with reload without restart (Reload(): SIGHUP; and a
// certificate file check every tls_reload_interval_s).
//
// Thread-safety: Load/StartListeners/StopListeners from the controlling thread before the
// shards run / while stopping. Everything else from any thread: password and ACL snapshots
// are immutable and swapped whole under a mutex; acl_version() is one atomic load, so a
// connection recompiles its ClientAcl only after a reload.
// Errors: Load/StartListeners/Reload return a status naming the file or setting; a failed
// Reload keeps every previous snapshot.
#ifndef SLUICE_BROKER_SERVER_SECURITY_H_
#define SLUICE_BROKER_SERVER_SECURITY_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <condition_variable>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "broker/auth/acl.h"
#include "broker/auth/jwt.h"
#include "broker/auth/password_file.h"
#include "broker/net/admission.h"
#include "broker/server/security_config.h"

namespace sluice::net {
class Listener;
class TlsContexts;
}  // namespace sluice::net

namespace sluice::broker {

class Broker;

class Security {
 public:
  Security(Broker* broker, const SecurityConfig& config);
  ~Security();

  absl::Status Load();
  absl::Status StartListeners();
  void StopListeners();
  // After the shard threads have stopped (or never ran): frees the acceptors while their
  // io_contexts still exist.
  // Also stops the auth worker threads (their completions post to the shards).
  void DestroyListeners();
  absl::Status Reload();

  // ("tls", "127.0.0.1:8883") per running listener, for the ready fd and logs.
  std::vector<std::pair<std::string, std::string>> ListenerAddresses() const;

  // Accept-time limits; null refuses (the caller closes the socket).
  std::shared_ptr<void> Admit(const std::string& ip);
  net::Admission::Counts admission_counts() const { return admission_.counts(); }
  uint64_t handshake_failures() const;
  uint64_t reloads() const { return reloads_.load(); }

  bool has_password_file() const;
  // Verifies against the password file (PBKDF2). Successful checks are cached (keyed by user
  // and a keyed hash of the password) so reconnecting clients do not pay the derivation.
  bool CheckPassword(const std::string& user, const std::string& password);
  // True when this user/password pair verified before (no PBKDF2; the shards' fast path).
  bool PasswordCached(const std::string& user, const std::string& password);
  // Runs `work` on the auth worker threads (PBKDF2 off the shard threads); false when
  // kAuthQueueMax checks are already waiting (the caller refuses with "server busy").
  static constexpr size_t kAuthQueueMax = 4096;
  bool SubmitAuthWork(std::function<void()> work);
  // SCRAM-SHA-256 credentials of `user` from the password file (nullopt: none).
  std::optional<auth::ScramCredentials> ScramCredentialsFor(const std::string& user) const;

  // Null when no jwt_public_key_file is configured.
  std::shared_ptr<const auth::JwtVerifier> jwt() const;

  bool has_acl() const;
  uint64_t acl_version() const { return acl_version_.load(std::memory_order_acquire); }
  // Null when no ACL file is configured.
  std::shared_ptr<const auth::ClientAcl> AclFor(std::string_view user, std::string_view client_id,
                                                std::string_view identity) const;

  const SecurityConfig& config() const { return config_; }

 private:
  absl::Status LoadAuth();
  void WatchCertificates();

  Broker* broker_;
  const SecurityConfig config_;
  net::Admission admission_;
  std::shared_ptr<net::TlsContexts> tls_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;

  mutable std::mutex mu_;  // guards the snapshots and the cache
  std::shared_ptr<const auth::PasswordFile> passwords_;
  std::shared_ptr<const auth::Acl> acl_;
  std::shared_ptr<const auth::JwtVerifier> jwt_;
  absl::flat_hash_set<std::string> password_cache_;  // user NUL keyed-hash; cleared on reload
  std::string cache_key_;                    // random per process
  std::atomic<uint64_t> acl_version_{1};
  std::atomic<uint64_t> reloads_{0};

  std::string CacheKey(const std::string& user, const std::string& password) const;
  void AuthWorker();
  void StopAuthWorkers();

  std::vector<std::thread> auth_threads_;
  std::mutex auth_mu_;
  std::condition_variable auth_cv_;
  std::deque<std::function<void()>> auth_queue_;
  bool auth_stop_ = false;

  std::thread watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_SECURITY_H_
