// Test support for the security tests: a sluiced child process with extra listeners, a test
// PKI made with the OpenSSL API (CA, server and client certificates, expired ones too), and
// MQTT clients over TCP, TLS (OpenSSL), WebSocket and WebSocket over TLS (Boost.Beast).
// Every wait is bounded. Not thread-safe: one test thread.
#pragma once

#include <csignal>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/conformance/packets.h"
#include "tests/conformance/process.h"

namespace sluice::security_test {

using conformance::Bytes;
using conformance::Millis;
using conformance::Packet;
using conformance::Version;
using namespace std::chrono_literals;

inline constexpr Millis kTimeout = 5000ms;

// A scratch directory under TEST_TMPDIR.
std::string TempDir(const std::string& name);
void WriteFile(const std::string& path, const std::string& text);
std::string Runfile(const char* env_name);  // path from an env var set in BUILD

// ---- Broker -------------------------------------------------------------------------------
class Broker {
 public:
  // Starts sluiced with --listen 127.0.0.1:0, no admin/metrics listeners, and `flags`
  // (`--metrics-listen=127.0.0.1:0` among them turns the metrics endpoint on: port("metrics")).
  // With `stderr_file`, the broker's log (stderr) goes to that file instead of the test's
  // (log_file(); what ReloadAndAwait watches). nullptr and *error on failure.
  static std::unique_ptr<Broker> Start(const std::vector<std::string>& flags, std::string* error,
                                       const std::string& stderr_file = "");
  ~Broker();
  uint16_t port(const std::string& listener = "mqtt") const;
  pid_t pid() const { return child_->pid(); }
  std::optional<int> Exited() { return child_->Poll(); }
  void Signal(int sig);
  // SIGHUPs sent through Signal so far.
  int sighups() const { return sighups_; }
  const std::string& log_file() const { return log_file_; }
  int Stop() { return child_->Stop(SIGTERM, kTimeout); }
  // VmRSS of the broker process in KiB (0 if unknown).
  long RssKib() const;
  // VmHWM (peak resident set since start) of the broker process in KiB (0 if unknown).
  long PeakRssKib() const;

 private:
  std::unique_ptr<conformance::ChildProcess> child_;
  std::map<std::string, uint16_t> ports_;
  std::string log_file_;
  int sighups_ = 0;
};

// ---- Waiting for events -------------------------------------------------------------------
// Polls `probe` (every 20 ms) until it holds or `timeout` passes; whether it held. For
// conditions that have no event to wait for (a slot freed when the broker sees a close).
bool Eventually(const std::function<bool()>& probe, Millis timeout = kTimeout);

// The lines sluiced logs when a reload has finished (broker/server/security.cc, Reload and
// WatchCertificates). Each is written after the new settings are in place or refused, so
// they are the events to wait for; sluice_security_reloads_total counts a SIGHUP reload
// when it starts, before anything is reloaded.
inline constexpr char kTlsReloaded[] = "TLS certificates reloaded";
inline constexpr char kTlsReloadFailed[] = "TLS certificate reload failed; keeping the old ones";
inline constexpr char kTlsFilesChangedReloaded[] = "TLS certificate files changed: reloaded";
inline constexpr char kAuthReloaded[] = "password file, JWT key and ACL reloaded";
inline constexpr char kAuthReloadFailed[] = "password/ACL reload failed; keeping the old ones";

// Sends SIGHUP to `broker` (started with a log file) and waits, bounded by `timeout`, until
// its log has one more line containing `outcome` than before: that reload has finished. If
// the metrics endpoint is on, also checks that sluice_security_reloads_total equals the
// SIGHUPs sent. A failure says which and shows the end of the log.
::testing::AssertionResult ReloadAndAwait(Broker* broker, const std::string& outcome,
                                          Millis timeout = kTimeout);

// ---- Metrics and logs ---------------------------------------------------------------------
// GET /metrics from the broker's Prometheus endpoint (plain HTTP/1.0); the whole response.
std::string ScrapeMetrics(uint16_t port);
// The value of the sample `series` exactly as printed (`name` or `name{label="v"}`) in a
// scrape, or -1 when absent.
double MetricValue(const std::string& scrape, const std::string& series);
// Scrapes until `series` reaches at least `at_least` (bounded: `timeout`); the last value.
double AwaitMetric(uint16_t port, const std::string& series, double at_least,
                   Millis timeout = kTimeout);
// The lines of `path` containing every one of `parts`.
std::vector<std::string> LinesWith(const std::string& path, const std::vector<std::string>& parts);
// Waits (bounded) until `path` has a line containing every one of `parts`; that line or "".
std::string AwaitLogLine(const std::string& path, const std::vector<std::string>& parts,
                         Millis timeout = kTimeout);
// Waits (bounded) until `path` has at least `count` lines containing every one of `parts`.
bool AwaitLogLines(const std::string& path, const std::vector<std::string>& parts, size_t count,
                   Millis timeout = kTimeout);
// The last `n` lines of `path`.
std::string LogTail(const std::string& path, size_t n);

// ---- PKI ----------------------------------------------------------------------------------
struct CertOptions {
  std::string cn;
  std::string san_dns;          // optional subjectAltName DNS
  long not_before_s = -3600;    // relative to now
  long not_after_s = 86400;
  bool server = false;
};
struct KeyPair {
  std::string cert_file, key_file;
};
class Pki {
 public:
  // Creates a CA (key + self-signed certificate) in `dir`, named `name`.
  Pki(const std::string& dir, const std::string& name = "test-ca");
  ~Pki();
  const std::string& ca_file() const { return ca_file_; }
  KeyPair Issue(const std::string& file_stem, const CertOptions& options);

 private:
  std::string dir_, ca_file_;
  void* ca_key_ = nullptr;   // EVP_PKEY*
  void* ca_cert_ = nullptr;  // X509*
  long serial_ = 1;
};

// ---- Clients ------------------------------------------------------------------------------
class Wire {
 public:
  virtual ~Wire() = default;
  virtual bool Send(std::string_view bytes) = 0;
  // Appends what arrives within `timeout` (at least one byte) to *out; false on timeout,
  // close or error (closed() tells which).
  virtual bool Receive(std::string* out, Millis timeout) = 0;
  bool closed() const { return closed_; }

 protected:
  bool closed_ = false;
};

struct TlsClientOptions {
  std::string ca_file, cert_file, key_file;
  int max_version = 0;  // e.g. TLS1_2_VERSION; 0: default
  std::string sni = "localhost";
  std::string ciphers;       // TLS 1.2 cipher list; empty: default
  std::string ciphersuites;  // TLS 1.3 suites; empty: default
};

std::unique_ptr<Wire> TcpWire(uint16_t port);
// nullptr and *error when the TLS handshake fails.
std::unique_ptr<Wire> TlsWire(uint16_t port, const TlsClientOptions& options, std::string* error,
                              std::string* server_cn = nullptr);
// WebSocket (ws) or over TLS (tls != nullptr). nullptr and *error when the upgrade fails.
std::unique_ptr<Wire> WsWire(uint16_t port, const std::string& path,
                             const std::string& subprotocol, const TlsClientOptions* tls,
                             std::string* error);

class Client {
 public:
  Client(std::unique_ptr<Wire> wire, Version v) : wire_(std::move(wire)), version_(v) {}
  bool ok() const { return wire_ != nullptr; }
  bool Send(std::string_view bytes) { return wire_ && wire_->Send(bytes); }
  // One frame, or empty on timeout/close.
  Bytes Read(Millis timeout = kTimeout);
  Packet ReadDecoded(Millis timeout = kTimeout) { return conformance::Decode(version_, Read(timeout)); }
  // True if the connection closes within `timeout` (frames before it are skipped).
  bool ExpectClosed(Millis timeout = kTimeout);
  // CONNECT; returns the CONNACK (type 0 if none).
  Packet Connect(const std::string& client_id, std::optional<std::string> user = std::nullopt,
                 std::optional<std::string> password = std::nullopt);
  Version version() const { return version_; }
  uint16_t NextId() { return ++next_id_; }
  // SUBSCRIBE to `filters` at QoS 1; the SUBACK's reason codes (a test failure if the answer
  // is no SUBACK).
  std::vector<uint8_t> SubscribeCodes(const std::vector<std::string>& filters);

 private:
  std::unique_ptr<Wire> wire_;
  Version version_;
  std::string in_;
  uint16_t next_id_ = 0;
};

}  // namespace sluice::security_test
