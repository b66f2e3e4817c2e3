#include "broker/net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace sluice::net {

namespace ssl = boost::asio::ssl;

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

absl::Status TlsContexts::Reload() {
  const TlsSettings& s = settings_;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  // No TLS < 1.2, no compression, no renegotiation; server cipher order.
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_NO_RENEGOTIATION);
  int min = s.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (s.min_version != "1.2" && s.min_version != "1.3")
    return absl::InvalidArgumentError("tls_min_version: expected 1.2 or 1.3, got '" +
                                      s.min_version + "'");
  SSL_CTX_set_min_proto_version(native, min);
  if (SSL_CTX_use_certificate_chain_file(native, s.cert_file.c_str()) != 1)
    return absl::InvalidArgumentError("tls_cert_file '" + s.cert_file + "': " + OpenSslError());
  if (SSL_CTX_use_PrivateKey_file(native, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return absl::InvalidArgumentError("tls_key_file '" + s.key_file + "': " + OpenSslError());
  if (SSL_CTX_check_private_key(native) != 1)
    return absl::InvalidArgumentError("tls_key_file '" + s.key_file +
                                      "' does not match tls_cert_file: " + OpenSslError());
  if (!s.ciphers.empty() && SSL_CTX_set_cipher_list(native, s.ciphers.c_str()) != 1)
    return absl::InvalidArgumentError("tls_ciphers '" + s.ciphers + "': " + OpenSslError());
  if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(native, s.ciphersuites.c_str()) != 1)
    return absl::InvalidArgumentError("tls_ciphersuites '" + s.ciphersuites +
                                      "': " + OpenSslError());
  if (!s.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, s.ca_file.c_str(), nullptr) != 1)
      return absl::InvalidArgumentError("tls_ca_file '" + s.ca_file + "': " + OpenSslError());
    // Ask for a client certificate; verify it when given (expiry, chain to tls_ca_file).
    int mode = SSL_VERIFY_PEER;
    if (s.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(native, names);
  } else if (s.require_client_cert) {
    return absl::InvalidArgumentError("tls_require_client_cert needs tls_ca_file");
  }
  // Session resumption across reloads is not needed; keep tickets per context.
  static const unsigned char kSessionId[] = "sluice";
  SSL_CTX_set_session_id_context(native, kSessionId, sizeof kSessionId - 1);
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(ctx);
  ++reloads_;
  return absl::OkStatus();
}

std::shared_ptr<ssl::context> TlsContexts::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

uint64_t TlsContexts::reloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reloads_;
}

std::string CertificateIdentity(void* ssl_ptr) {
  SSL* ssl = static_cast<SSL*>(ssl_ptr);
  if (SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  std::string identity;
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
  if (idx >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len > 0) identity.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  if (identity.empty()) {
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && identity.empty(); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS || n->type == GEN_EMAIL || n->type == GEN_URI) {
        const ASN1_IA5STRING* s = n->d.ia5;
        identity.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  X509_free(cert);
  // An identity becomes a user name and is substituted into ACL filters: no wildcards,
  // separators or control characters.
  for (char c : identity)
    if (c == '+' || c == '#' || c == '/' || static_cast<unsigned char>(c) < 0x20) return "";
  return identity;
}

}  // namespace sluice::net
