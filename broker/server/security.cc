#include "broker/server/security.h"

#include <sys/stat.h>

#include <algorithm>

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "broker/net/listener.h"
#include "broker/net/tls_context.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"

namespace sluice::broker {

namespace {

constexpr size_t kPasswordCacheMax = 100000;

net::AdmissionLimits Limits(const SecurityConfig& c) {
  net::AdmissionLimits l;
  l.max_connections = c.max_connections;
  l.max_connections_per_address = c.max_connections_per_address;
  l.max_connection_rate = c.max_connection_rate;
  return l;
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

Security::Security(Broker* broker, const SecurityConfig& config)
    : broker_(broker), config_(config), admission_(Limits(config)) {
  cache_key_.resize(32);
  RAND_bytes(reinterpret_cast<unsigned char*>(cache_key_.data()), 32);
}

Security::~Security() {
  StopAuthWorkers();
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

absl::Status Security::Load() {
  const SecurityConfig& c = config_;
  if (!c.tls_listen.empty() || !c.wss_listen.empty()) {
    if (c.tls_cert_file.empty() || c.tls_key_file.empty())
      return absl::InvalidArgumentError("tls_listen/wss_listen need tls_cert_file and tls_key_file");
    net::TlsSettings s;
    s.cert_file = c.tls_cert_file;
    s.key_file = c.tls_key_file;
    s.ca_file = c.tls_ca_file;
    s.ciphers = c.tls_ciphers;
    s.ciphersuites = c.tls_ciphersuites;
    s.min_version = c.tls_min_version;
    s.require_client_cert = c.tls_require_client_cert;
    tls_ = std::make_shared<net::TlsContexts>(s);
    if (absl::Status st = tls_->Load(); !st.ok()) return st;
  }
  if (!c.ws_path.empty() && c.ws_path[0] != '/')
    return absl::InvalidArgumentError("ws_path must start with '/'");
  return LoadAuth();
}

absl::Status Security::LoadAuth() {
  std::shared_ptr<const auth::PasswordFile> passwords;
  std::shared_ptr<const auth::Acl> acl;
  std::shared_ptr<const auth::JwtVerifier> jwt;
  if (!config_.jwt_public_key_file.empty()) {
    auto loaded = auth::JwtVerifier::Load(config_.jwt_public_key_file, config_.jwt_audience);
    if (!loaded.ok()) return loaded.status();
    jwt = *std::move(loaded);
  }
  if (!config_.password_file.empty()) {
    auto file = auth::PasswordFile::Load(config_.password_file);
    if (!file.ok()) return file.status();
    passwords = std::make_shared<const auth::PasswordFile>(*std::move(file));
  }
  if (!config_.acl_file.empty()) {
    auto loaded = auth::Acl::Load(config_.acl_file);
    if (!loaded.ok()) return loaded.status();
    acl = std::make_shared<const auth::Acl>(*std::move(loaded));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    passwords_ = std::move(passwords);
    acl_ = std::move(acl);
    jwt_ = std::move(jwt);
    password_cache_.clear();
  }
  acl_version_.fetch_add(1, std::memory_order_acq_rel);
  return absl::OkStatus();
}

absl::Status Security::StartListeners() {
  std::vector<boost::asio::io_context*> ios;
  for (uint32_t i = 0; i < broker_->shard_count(); ++i) ios.push_back(&broker_->shard(i).io());
  Broker* broker = broker_;
  auto on_stream = [broker](uint32_t shard, std::unique_ptr<net::Stream> stream,
                            std::shared_ptr<void> ticket) {
    auto c = std::make_shared<Connection>(&broker->shard(shard), std::move(stream));
    c->SetAdmission(std::move(ticket));
    c->Start();
  };
  const int64_t handshake_ms = broker_->config().connect_timeout_s * 1000;
  const size_t ws_max = static_cast<size_t>(broker_->config().max_packet_size) + 65536;
  auto add = [&](const std::string& name, const std::string& address, bool tls, bool ws) {
    if (address.empty()) return absl::OkStatus();
    net::ListenerOptions o;
    o.name = name;
    o.address = address;
    o.tls = tls;
    o.websocket = ws;
    o.ws_path = config_.ws_path;
    o.tls_contexts = tls_;
    o.handshake_timeout_ms = handshake_ms;
    o.max_ws_message_bytes = ws_max;
    auto l = std::make_unique<net::Listener>(o, ios, &admission_, on_stream);
    if (absl::Status st = l->Bind(); !st.ok()) return st;
    listeners_.push_back(std::move(l));
    return absl::OkStatus();
  };
  if (absl::Status st = add("tls", config_.tls_listen, true, false); !st.ok()) return st;
  if (absl::Status st = add("ws", config_.ws_listen, false, true); !st.ok()) return st;
  if (absl::Status st = add("wss", config_.wss_listen, true, true); !st.ok()) return st;
  for (auto& l : listeners_) {
    l->Start();
    SLOG(kInfo).Kv("listener", l->options().name).Kv("listen", l->BoundAddress())
        << "listener ready";
  }
  if (tls_ && config_.tls_reload_interval_s > 0)
    watcher_ = std::thread([this] { WatchCertificates(); });
  // PBKDF2 checks run here, not on the shards: a flood of wrong passwords then delays other
  // logins, not established clients.
  if (!config_.password_file.empty()) {
    unsigned n = std::min(2u, std::max(1u, std::thread::hardware_concurrency() / 2));
    for (unsigned i = 0; i < n; ++i) auth_threads_.emplace_back([this] { AuthWorker(); });
  }
  return absl::OkStatus();
}

void Security::StopListeners() {
  for (auto& l : listeners_) l->Stop();
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
}

absl::Status Security::Reload() {
  reloads_.fetch_add(1);
  absl::Status result = absl::OkStatus();
  if (tls_) {
    if (absl::Status st = tls_->Reload(); !st.ok()) {
      SLOG(kError).Kv("error", st.message()) << "TLS certificate reload failed; keeping the old ones";
      result = st;
    } else {
      SLOG(kInfo) << "TLS certificates reloaded";
    }
  }
  if (absl::Status st = LoadAuth(); !st.ok()) {
    SLOG(kError).Kv("error", st.message()) << "password/ACL reload failed; keeping the old ones";
    result = st;
  } else if (!config_.password_file.empty() || !config_.acl_file.empty() ||
             !config_.jwt_public_key_file.empty()) {
    SLOG(kInfo) << "password file, JWT key and ACL reloaded";
  }
  return result;
}

void Security::WatchCertificates() {
  auto stamp = [this] {
    return MtimeNs(config_.tls_cert_file) ^ (MtimeNs(config_.tls_key_file) * 31) ^
           (MtimeNs(config_.tls_ca_file) * 17);
  };
  int64_t last = stamp();
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, std::chrono::seconds(config_.tls_reload_interval_s),
                             [this] { return watch_stop_; })) {
    int64_t now = stamp();
    if (now == last) continue;
    last = now;
    if (absl::Status st = tls_->Reload(); !st.ok()) {
      SLOG(kError).Kv("error", st.message()) << "TLS certificate reload failed; keeping the old ones";
    } else {
      SLOG(kInfo) << "TLS certificate files changed: reloaded";
    }
  }
}

void Security::DestroyListeners() {
  listeners_.clear();
  StopAuthWorkers();
}

void Security::StopAuthWorkers() {
  {
    std::lock_guard<std::mutex> lock(auth_mu_);
    auth_stop_ = true;
    auth_queue_.clear();
  }
  auth_cv_.notify_all();
  for (auto& t : auth_threads_) t.join();
  auth_threads_.clear();
}

bool Security::SubmitAuthWork(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(auth_mu_);
    if (auth_stop_ || auth_queue_.size() >= kAuthQueueMax) return false;
    auth_queue_.push_back(std::move(work));
  }
  auth_cv_.notify_one();
  return true;
}

void Security::AuthWorker() {
  std::unique_lock<std::mutex> lock(auth_mu_);
  while (true) {
    auth_cv_.wait(lock, [this] { return auth_stop_ || !auth_queue_.empty(); });
    if (auth_stop_) return;
    std::function<void()> work = std::move(auth_queue_.front());
    auth_queue_.pop_front();
    lock.unlock();
    work();
    work = nullptr;  // drop captured state before taking the lock again
    lock.lock();
  }
}

std::vector<std::pair<std::string, std::string>> Security::ListenerAddresses() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& l : listeners_) out.emplace_back(l->options().name, l->BoundAddress());
  return out;
}

std::shared_ptr<void> Security::Admit(const std::string& ip) {
  return admission_.TryAdmit(ip);
}

uint64_t Security::handshake_failures() const {
  uint64_t n = 0;
  for (const auto& l : listeners_) n += l->handshake_failures();
  return n;
}

bool Security::has_password_file() const {
  std::lock_guard<std::mutex> lock(mu_);
  return passwords_ != nullptr;
}

std::string Security::CacheKey(const std::string& user, const std::string& password) const {
  std::string material = user;
  material.push_back('\0');
  material += password;
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
       reinterpret_cast<const unsigned char*>(material.data()), material.size(), mac, &mac_len);
  std::string key = user;
  key.push_back('\0');
  key.append(reinterpret_cast<const char*>(mac), mac_len);
  return key;
}

bool Security::PasswordCached(const std::string& user, const std::string& password) {
  std::string key = CacheKey(user, password);
  std::lock_guard<std::mutex> lock(mu_);
  return !passwords_ || password_cache_.contains(key);
}

bool Security::CheckPassword(const std::string& user, const std::string& password) {
  std::string key = CacheKey(user, password);
  std::shared_ptr<const auth::PasswordFile> passwords;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (password_cache_.contains(key)) return true;
    passwords = passwords_;
  }
  if (!passwords) return true;
  // The slow part runs without the lock (and on the calling shard's thread).
  if (!passwords->Verify(user, password)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (passwords_ == passwords) {
    if (password_cache_.size() >= kPasswordCacheMax) password_cache_.clear();
    password_cache_.insert(std::move(key));
  }
  return true;
}

std::optional<auth::ScramCredentials> Security::ScramCredentialsFor(const std::string& user) const {
  std::shared_ptr<const auth::PasswordFile> passwords;
  {
    std::lock_guard<std::mutex> lock(mu_);
    passwords = passwords_;
  }
  if (!passwords) return std::nullopt;
  return passwords->Scram(user);
}

std::shared_ptr<const auth::JwtVerifier> Security::jwt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jwt_;
}

bool Security::has_acl() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acl_ != nullptr;
}

std::shared_ptr<const auth::ClientAcl> Security::AclFor(std::string_view user,
                                                        std::string_view client_id,
                                                        std::string_view identity) const {
  std::shared_ptr<const auth::Acl> acl;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acl = acl_;
  }
  if (!acl) return nullptr;
  return acl->ForClient(user, client_id, identity);
}

}  // namespace sluice::broker
