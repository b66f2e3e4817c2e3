// SecurityConfig: the settings of the TLS/WebSocket listeners, authentication, ACL and the
// connection and client limits (issue 8). A part of BrokerConfig, registered with it; flat
// keys (tls_listen, password_file, max_connections, ...). Value type.
#ifndef SLUICE_BROKER_SERVER_SECURITY_CONFIG_H_
#define SLUICE_BROKER_SERVER_SECURITY_CONFIG_H_

#include <cstdint>
#include <string>

#include "base/config.h"

namespace sluice::broker {

struct SecurityConfig {
  // Listeners; empty disables one.
  std::string tls_listen;
  std::string ws_listen;
  std::string wss_listen;
  std::string ws_path = "/mqtt";
  // TLS (tls_listen and wss_listen).
  std::string tls_cert_file, tls_key_file, tls_ca_file;
  std::string tls_ciphers, tls_ciphersuites;
  std::string tls_min_version = "1.2";
  bool tls_require_client_cert = false;
  bool tls_use_identity_as_username = false;
  int64_t tls_reload_interval_s = 0;  // >0: reload certificates when their files change
  // Authentication and authorization.
  std::string password_file;
  std::string acl_file;
  std::string jwt_public_key_file;  // RS256 (RSA) or ES256 (P-256) public key, PEM
  std::string jwt_audience;
  // Limits (0 = unlimited).
  int64_t max_connections = 0;
  int64_t max_connections_per_address = 0;
  int64_t max_connection_rate = 0;
  int64_t max_publish_rate = 0;
  int64_t max_publish_bytes_rate = 0;
  int64_t max_subscriptions_per_client = 0;
  int64_t max_topic_length = 65535;
  // Finite by default: a topic of 32k levels is legal by size, and every level costs a trie
  // node per shard (README "Security": real deployments stay under a dozen).
  int64_t max_topic_levels = 128;
  int64_t max_user_properties = 1024;

  void Register(ConfigSchema* schema);
};

}  // namespace sluice::broker

#endif  // SLUICE_BROKER_SERVER_SECURITY_CONFIG_H_
