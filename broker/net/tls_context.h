// TlsContexts: the server-side OpenSSL context for the TLS and WSS listeners, built from
// files and rebuilt on Reload() (certificate rotation without restart). Each handshake takes
// the current context (a shared_ptr, kept by the stream for its lifetime), so a reload only
// affects new connections and never disturbs established ones.
//
// Thread-safety: all methods from any thread. Errors: Load/Reload return a status naming
// the file and OpenSSL's reason; a failed Reload keeps the previous context.
#ifndef SLUICE_BROKER_NET_TLS_CONTEXT_H_
#define SLUICE_BROKER_NET_TLS_CONTEXT_H_

#include <memory>
#include <mutex>
#include <string>

#include <utility>
#include <boost/asio/ssl/context.hpp>

#include "absl/status/status.h"

namespace sluice::net {

struct TlsSettings {
  std::string cert_file;         // PEM chain, server certificate first
  std::string key_file;          // PEM private key
  std::string ca_file;           // PEM CAs that sign client certificates (mTLS)
  std::string ciphers;           // TLS 1.2 cipher list (OpenSSL syntax); empty: OpenSSL's default
  std::string ciphersuites;      // TLS 1.3 suites; empty: OpenSSL's default
  std::string min_version = "1.2";  // "1.2" or "1.3"
  bool require_client_cert = false;
};

class TlsContexts {
 public:
  explicit TlsContexts(TlsSettings settings) : settings_(std::move(settings)) {}

  absl::Status Load() { return Reload(); }
  absl::Status Reload();
  std::shared_ptr<boost::asio::ssl::context> Current() const;
  const TlsSettings& settings() const { return settings_; }
  uint64_t reloads() const;

 private:
  TlsSettings settings_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  uint64_t reloads_ = 0;
};

// The identity of a verified peer certificate: its subject CN, else its first DNS, email or
// URI subjectAltName; empty when there is none. `ssl` is an SSL*.
std::string CertificateIdentity(void* ssl);

}  // namespace sluice::net

#endif  // SLUICE_BROKER_NET_TLS_CONTEXT_H_
