#include "tests/security/support.h"

#include "gtest/gtest.h"
#include "tests/conformance/harness.h"  // ConnectTcp

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <utility>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace sluice::security_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

std::string Runfile(const char* env_name) {
  const char* v = std::getenv(env_name);
  return v ? v : "";
}

std::string TempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + name + "-" +
                    std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// ---- Broker -------------------------------------------------------------------------------

std::unique_ptr<Broker> Broker::Start(const std::vector<std::string>& flags, std::string* error,
                                      const std::string& stderr_file) {
  std::unique_ptr<Broker> b(new Broker);
  b->log_file_ = stderr_file;
  conformance::ChildProcess::Options options;
  if (!stderr_file.empty()) {
    // The shell redirects stderr and execs sluiced in its place (same pid, ready fd kept).
    options.argv = {"/bin/sh", "-c", "log=$1; shift; exec \"$@\" 2>>\"$log\"", "sh",
                    stderr_file};
  }
  for (const std::string& a :
       {Runfile("SLUICED"), std::string("--listen"), std::string("127.0.0.1:0"),
        std::string("--data-dir"), TempDir("data"), std::string("--ready-fd"), std::string("3"),
        std::string("--admin-listen="), std::string("--metrics-listen="),
        std::string("--sys-interval-s=0")})
    options.argv.push_back(a);
  options.argv.insert(options.argv.end(), flags.begin(), flags.end());
  options.ready_fd = 3;
  b->child_ = conformance::ChildProcess::Spawn(options, error);
  if (!b->child_) return nullptr;
  std::string ready = b->child_->ReadReady(10000ms);
  std::istringstream lines(ready);
  std::string line;
  bool first = true;
  while (std::getline(lines, line)) {
    std::string name = "mqtt", address = line;
    if (!first) {
      size_t space = line.find(' ');
      if (space == std::string::npos) continue;
      name = line.substr(0, space);
      address = line.substr(space + 1);
    }
    first = false;
    size_t colon = address.rfind(':');
    if (colon == std::string::npos) continue;
    b->ports_[name] = static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1));
  }
  if (!b->ports_.count("mqtt")) {
    auto status = b->child_->Wait(200ms);
    *error = "sluiced did not report its listeners (got '" + ready + "'); it " +
             (status ? conformance::DescribeStatus(*status) : std::string("is still running"));
    return nullptr;
  }
  return b;
}

Broker::~Broker() {
  if (child_) child_->Stop(SIGTERM, kTimeout);
}

uint16_t Broker::port(const std::string& listener) const {
  auto it = ports_.find(listener);
  return it == ports_.end() ? 0 : it->second;
}

void Broker::Signal(int sig) {
  if (sig == SIGHUP) ++sighups_;
  ::kill(child_->pid(), sig);
}

// ---- Waiting for events -------------------------------------------------------------------

bool Eventually(const std::function<bool()>& probe, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);  // poll interval of a bounded wait
  }
}

::testing::AssertionResult ReloadAndAwait(Broker* broker, const std::string& outcome,
                                          Millis timeout) {
  const std::string& log = broker->log_file();
  if (log.empty()) {
    return ::testing::AssertionFailure() << "ReloadAndAwait needs a broker started with a log file";
  }
  const size_t before = LinesWith(log, {outcome}).size();
  broker->Signal(SIGHUP);
  if (!AwaitLogLines(log, {outcome}, before + 1, timeout)) {
    return ::testing::AssertionFailure()
           << "no new \"" << outcome << "\" in the broker's log within " << timeout.count()
           << " ms of SIGHUP " << broker->sighups() << "; the log ends:\n" << LogTail(log, 15);
  }
  if (const uint16_t metrics = broker->port("metrics"); metrics != 0) {
    const double reloads = MetricValue(ScrapeMetrics(metrics), "sluice_security_reloads_total");
    if (reloads != broker->sighups()) {
      return ::testing::AssertionFailure() << "sluice_security_reloads_total is " << reloads
                                           << " after " << broker->sighups() << " SIGHUPs";
    }
  }
  return ::testing::AssertionSuccess();
}

namespace {

// A "Vm...:" line of /proc/PID/status in KiB (0 if unknown).
long ProcStatusKib(pid_t pid, const std::string& wanted) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == wanted) {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

long Broker::RssKib() const { return ProcStatusKib(child_->pid(), "VmRSS:"); }
long Broker::PeakRssKib() const { return ProcStatusKib(child_->pid(), "VmHWM:"); }

// ---- Metrics and logs ---------------------------------------------------------------------

std::string ScrapeMetrics(uint16_t port) {
  auto wire = TcpWire(port);
  wire->Send("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
  std::string out;
  while (wire->Receive(&out, 2000ms)) {
  }
  return out;
}

double MetricValue(const std::string& scrape, const std::string& series) {
  size_t at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(scrape.c_str() + at + series.size() + 2);
}

double AwaitMetric(uint16_t port, const std::string& series, double at_least, Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  double value = -1;
  while (true) {
    value = MetricValue(ScrapeMetrics(port), series);
    if (value >= at_least || std::chrono::steady_clock::now() >= deadline) return value;
    std::this_thread::sleep_for(20ms);  // poll interval of a bounded wait
  }
}

std::vector<std::string> LinesWith(const std::string& path, const std::vector<std::string>& parts) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

bool AwaitLogLines(const std::string& path, const std::vector<std::string>& parts, size_t count,
                   Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (LinesWith(path, parts).size() >= count) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);  // poll interval of a bounded wait
  }
}

std::string LogTail(const std::string& path, size_t n) {
  std::vector<std::string> lines = LinesWith(path, {});
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
  }
  return out;
}

std::string AwaitLogLine(const std::string& path, const std::vector<std::string>& parts,
                         Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto lines = LinesWith(path, parts);
    if (!lines.empty()) return lines.front();
    if (std::chrono::steady_clock::now() >= deadline) return "";
    std::this_thread::sleep_for(20ms);  // poll interval of a bounded wait
  }
}

// ---- PKI ----------------------------------------------------------------------------------

namespace {

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

X509* MakeCert(EVP_PKEY* key, const std::string& cn, long serial, long not_before_s,
               long not_after_s, X509* issuer, EVP_PKEY* issuer_key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_s);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  return cert;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

Pki::Pki(const std::string& dir, const std::string& name) : dir_(dir) {
  EVP_PKEY* key = NewKey();
  X509* cert = MakeCert(key, name, serial_++, -86400, 10 * 86400, nullptr, nullptr);
  AddExt(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExt(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExt(cert, cert, NID_subject_key_identifier, "hash");
  X509_sign(cert, key, EVP_sha256());
  ca_file_ = dir + "/" + name + ".pem";
  WritePem(ca_file_, cert, nullptr);
  ca_key_ = key;
  ca_cert_ = cert;
}

Pki::~Pki() {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(ca_key_));
  X509_free(static_cast<X509*>(ca_cert_));
}

KeyPair Pki::Issue(const std::string& stem, const CertOptions& o) {
  auto* ca_cert = static_cast<X509*>(ca_cert_);
  auto* ca_key = static_cast<EVP_PKEY*>(ca_key_);
  EVP_PKEY* key = NewKey();
  X509* cert = MakeCert(key, o.cn, ++serial_ + std::time(nullptr) % 100000 * 1000, o.not_before_s,
                        o.not_after_s, ca_cert, ca_key);
  AddExt(cert, ca_cert, NID_basic_constraints, "CA:FALSE");
  AddExt(cert, ca_cert, NID_ext_key_usage, o.server ? "serverAuth" : "clientAuth");
  AddExt(cert, ca_cert, NID_authority_key_identifier, "keyid:always");
  std::string san = o.san_dns;
  if (o.server && san.empty()) san = "localhost";
  std::string san_value = "DNS:" + san;
  if (o.server) san_value += ",IP:127.0.0.1";
  if (!san.empty()) AddExt(cert, ca_cert, NID_subject_alt_name, san_value.c_str());
  X509_sign(cert, ca_key, EVP_sha256());
  KeyPair kp{dir_ + "/" + stem + ".crt", dir_ + "/" + stem + ".key"};
  WritePem(kp.cert_file, cert, nullptr);
  WritePem(kp.key_file, nullptr, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return kp;
}

// ---- Wires --------------------------------------------------------------------------------

namespace {


class Tcp : public Wire {
 public:
  explicit Tcp(int fd) : fd_(fd) { closed_ = fd < 0; }
  ~Tcp() override {
    if (fd_ >= 0) close(fd_);
  }
  bool Send(std::string_view bytes) override {
    while (!bytes.empty() && fd_ >= 0) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return bytes.empty();
  }
  bool Receive(std::string* out, Millis timeout) override {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, int(timeout.count())) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    out->append(buf, size_t(n));
    return true;
  }

 private:
  int fd_;
};

class Tls : public Wire {
 public:
  Tls(int fd, SSL_CTX* ctx, SSL* ssl) : fd_(fd), ctx_(ctx), ssl_(ssl) {}
  ~Tls() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    close(fd_);
  }
  bool Send(std::string_view bytes) override {
    if (closed_) return false;
    while (!bytes.empty()) {
      int n = SSL_write(ssl_, bytes.data(), int(bytes.size()));
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return true;
  }
  bool Receive(std::string* out, Millis timeout) override {
    if (closed_) return false;
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, int(timeout.count())) <= 0) return false;
    }
    char buf[65536];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) return false;  // a record without application data
      closed_ = true;
      return false;
    }
    out->append(buf, size_t(n));
    return true;
  }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_;
};

SSL_CTX* ClientContext(const TlsClientOptions& o, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!o.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (o.max_version) SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (!o.ciphers.empty()) SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str());
  if (!o.ciphersuites.empty()) SSL_CTX_set_ciphersuites(ctx, o.ciphersuites.c_str());
  if (!o.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    *error = "cannot load client certificate";
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

std::string SubjectCn(X509* cert) {
  if (!cert) return "";
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

}  // namespace

std::unique_ptr<Wire> TcpWire(uint16_t port) { return std::make_unique<Tcp>(conformance::ConnectTcp(port)); }

std::unique_ptr<Wire> TlsWire(uint16_t port, const TlsClientOptions& o, std::string* error,
                              std::string* server_cn) {
  int fd = conformance::ConnectTcp(port);
  if (fd < 0) {
    *error = "TCP connect failed";
    return nullptr;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = ClientContext(o, error);
  if (!ctx) {
    close(fd);
    return nullptr;
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, o.sni.c_str());
  SSL_set1_host(ssl, o.sni.c_str());
  ERR_clear_error();
  if (SSL_connect(ssl) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    *error = std::string("TLS handshake failed: ") + buf;
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return nullptr;
  }
  if (server_cn) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    *server_cn = SubjectCn(peer);
    X509_free(peer);
  }
  return std::make_unique<Tls>(fd, ctx, ssl);
}

namespace {

// Runs `io` until `*done` or `timeout`; false on timeout.
bool RunUntil(asio::io_context& io, const bool* done, Millis timeout) {
  io.restart();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!*done && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  return *done;
}

template <typename WS>
class BeastWire : public Wire {
 public:
  template <typename... Args>
  explicit BeastWire(std::unique_ptr<asio::ssl::context> ctx, Args&&... args)
      : ctx_(std::move(ctx)), ws_(io_, std::forward<Args>(args)...) {}

  asio::io_context& io() { return io_; }
  WS& ws() { return ws_; }

  bool Send(std::string_view bytes) override {
    if (closed_) return false;
    bool done = false;
    boost::system::error_code result;
    ws_.async_write(asio::buffer(bytes.data(), bytes.size()),
                    [&](const boost::system::error_code& ec, size_t) {
                      done = true;
                      result = ec;
                    });
    if (!RunUntil(io_, &done, kTimeout) || result) {
      closed_ = true;
      return false;
    }
    return true;
  }
  bool Receive(std::string* out, Millis timeout) override {
    if (closed_) return false;
    if (!pending_) {
      pending_ = true;
      read_done_ = false;
      ws_.async_read(buffer_, [this](const boost::system::error_code& ec, size_t) {
        read_done_ = true;
        read_error_ = ec;
      });
    }
    if (!RunUntil(io_, &read_done_, timeout)) return false;  // the read stays pending
    pending_ = false;
    if (read_error_) {
      closed_ = true;
      return false;
    }
    auto data = buffer_.data();
    out->append(static_cast<const char*>(data.data()), data.size());
    buffer_.consume(buffer_.size());
    return true;
  }

 private:
  asio::io_context io_;
  std::unique_ptr<asio::ssl::context> ctx_;
  WS ws_;
  beast::flat_buffer buffer_;
  bool pending_ = false, read_done_ = false;
  boost::system::error_code read_error_;
};

template <typename WS>
bool Upgrade(BeastWire<WS>& w, uint16_t port, const std::string& path,
             const std::string& subprotocol, std::string* error) {
  auto& ws = w.ws();
  ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::request_type& req) {
    if (!subprotocol.empty()) req.set(beast::http::field::sec_websocket_protocol, subprotocol);
  }));
  websocket::response_type res;
  bool done = false;
  boost::system::error_code result;
  ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), path,
                     [&](const boost::system::error_code& ec) {
                       done = true;
                       result = ec;
                     });
  if (!RunUntil(w.io(), &done, kTimeout)) {
    *error = "WebSocket handshake timed out";
    return false;
  }
  if (result) {
    *error = "WebSocket handshake failed: " + result.message() + " (HTTP " +
             std::to_string(res.result_int()) + ")";
    return false;
  }
  if (res[beast::http::field::sec_websocket_protocol] != "mqtt") {
    *error = "server did not select subprotocol mqtt";
    return false;
  }
  ws.binary(true);
  return true;
}

}  // namespace

std::unique_ptr<Wire> WsWire(uint16_t port, const std::string& path,
                             const std::string& subprotocol, const TlsClientOptions* tls,
                             std::string* error) {
  asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  boost::system::error_code ec;
  if (!tls) {
    auto w = std::make_unique<BeastWire<websocket::stream<asio::ip::tcp::socket>>>(nullptr);
    w->ws().next_layer().connect(ep, ec);
    if (ec) {
      *error = "TCP connect failed";
      return nullptr;
    }
    if (!Upgrade(*w, port, path, subprotocol, error)) return nullptr;
    return w;
  }
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->load_verify_file(tls->ca_file, ec);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (!tls->cert_file.empty()) {
    ctx->use_certificate_chain_file(tls->cert_file, ec);
    ctx->use_private_key_file(tls->key_file, asio::ssl::context::pem, ec);
  }
  asio::ssl::context& ctx_ref = *ctx;
  using Wss = websocket::stream<asio::ssl::stream<asio::ip::tcp::socket>>;
  auto w = std::make_unique<BeastWire<Wss>>(std::move(ctx), ctx_ref);
  beast::get_lowest_layer(w->ws()).connect(ep, ec);
  if (ec) {
    *error = "TCP connect failed";
    return nullptr;
  }
  SSL_set_tlsext_host_name(w->ws().next_layer().native_handle(), "localhost");
  bool done = false;
  boost::system::error_code result;
  w->ws().next_layer().async_handshake(asio::ssl::stream_base::client,
                                       [&](const boost::system::error_code& e) {
                                         done = true;
                                         result = e;
                                       });
  if (!RunUntil(w->io(), &done, kTimeout) || result) {
    *error = "TLS handshake failed: " + result.message();
    return nullptr;
  }
  if (!Upgrade(*w, port, path, subprotocol, error)) return nullptr;
  return w;
}

// ---- Client -------------------------------------------------------------------------------

Bytes Client::Read(Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (wire_) {
    // A whole frame buffered?
    if (in_.size() >= 2) {
      uint32_t len = 0;
      int shift = 0;
      size_t i = 1;
      bool complete = false;
      for (; i < in_.size() && i <= 4; ++i) {
        uint8_t b = static_cast<uint8_t>(in_[i]);
        len |= uint32_t(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) {
          complete = true;
          break;
        }
      }
      if (complete && in_.size() >= i + 1 + len) {
        Bytes frame = in_.substr(0, i + 1 + len);
        in_.erase(0, frame.size());
        return frame;
      }
    }
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !wire_->Receive(&in_, left)) {
      if (wire_->closed() || left.count() <= 0) return {};
    }
  }
  return {};
}

bool Client::ExpectClosed(Millis timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (wire_ && std::chrono::steady_clock::now() < deadline) {
    Read(std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
    if (wire_->closed()) return true;
  }
  return !wire_;
}

Packet Client::Connect(const std::string& client_id, std::optional<std::string> user,
                       std::optional<std::string> password) {
  conformance::ConnectSpec spec;
  spec.version = version_;
  spec.client_id = client_id;
  spec.username = std::move(user);
  spec.password = std::move(password);
  if (!Send(conformance::Connect(spec))) return {};
  return ReadDecoded();
}

std::vector<uint8_t> Client::SubscribeCodes(const std::vector<std::string>& filters) {
  std::vector<conformance::SubSpec> subs;
  for (const auto& f : filters) subs.push_back({.filter = f, .qos = 1});
  Send(conformance::Subscribe(version_, NextId(), subs));
  Packet p = ReadDecoded();
  EXPECT_EQ(p.type, conformance::kSuback);
  return p.reasons;
}

}  // namespace sluice::security_test
