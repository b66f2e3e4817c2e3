#include "broker/server/security_config.h"

namespace sluice::broker {

void SecurityConfig::Register(ConfigSchema* s) {
  s->AddString("tls_listen", &tls_listen,
               "MQTT over TLS listener HOST:PORT (e.g. 0.0.0.0:8883); empty disables it.");
  s->AddString("ws_listen", &ws_listen,
               "MQTT over WebSocket listener HOST:PORT; empty disables it.");
  s->AddString("wss_listen", &wss_listen,
               "MQTT over WebSocket over TLS listener HOST:PORT; empty disables it.");
  s->AddString("ws_path", &ws_path, "HTTP path of the WebSocket endpoint.");
  s->AddString("tls_cert_file", &tls_cert_file, "PEM certificate chain of the TLS listeners.");
  s->AddString("tls_key_file", &tls_key_file, "PEM private key of the TLS listeners.");
  s->AddString("tls_ca_file", &tls_ca_file,
               "PEM CA certificates for client certificates; set: clients are asked for one.");
  s->AddString("tls_ciphers", &tls_ciphers, "TLS 1.2 cipher list (OpenSSL syntax); empty: default.");
  s->AddString("tls_ciphersuites", &tls_ciphersuites, "TLS 1.3 cipher suites; empty: default.");
  s->AddEnum("tls_min_version", &tls_min_version, {"1.2", "1.3"}, "Oldest TLS version accepted.");
  s->AddBool("tls_require_client_cert", &tls_require_client_cert,
             "Refuse TLS clients without a certificate signed by tls_ca_file (mutual TLS).");
  s->AddBool("tls_use_identity_as_username", &tls_use_identity_as_username,
             "On TLS listeners, the client certificate's CN (else its first SAN) is the user "
             "name; the password is not checked and a client without one is refused.");
  s->AddInt("tls_reload_interval_s", &tls_reload_interval_s, 0, 86400,
            "When >0, check the certificate files this often and reload them when changed "
            "(SIGHUP reloads them too).");
  s->AddString("password_file", &password_file,
               "User:PBKDF2-SHA512 hash file (sluice-passwd, mosquitto_passwd); clients with a "
               "user name must match it. Reloaded on SIGHUP.");
  s->AddString("jwt_public_key_file", &jwt_public_key_file,
               "PEM public key (RSA for RS256, P-256 for ES256): a JWT in the CONNECT password "
               "signed by it authenticates its 'sub' as the user name. Reloaded on SIGHUP.");
  s->AddString("jwt_audience", &jwt_audience,
               "When set, a JWT's 'aud' must contain this value.");
  s->AddString("acl_file", &acl_file,
               "YAML publish/subscribe rules per user, client id or certificate identity. "
               "Reloaded on SIGHUP.");
  s->AddInt("max_connections", &max_connections, 0, 100000000,
            "Open connections on all listeners; more are closed at accept. 0: unlimited.");
  s->AddInt("max_connections_per_address", &max_connections_per_address, 0, 100000000,
            "Open connections per client IP address. 0: unlimited.");
  s->AddInt("max_connection_rate", &max_connection_rate, 0, 100000000,
            "New connections per second (all listeners, burst of one second). 0: unlimited.");
  s->AddInt("max_publish_rate", &max_publish_rate, 0, 100000000,
            "PUBLISH packets per second per client; beyond it they are dropped (MQTT 5: "
            "PUBACK/PUBREC 0x97). 0: unlimited.");
  s->AddInt("max_publish_bytes_rate", &max_publish_bytes_rate, 0, 1LL << 40,
            "Payload bytes per second per client, like max_publish_rate. 0: unlimited.");
  s->AddInt("max_subscriptions_per_client", &max_subscriptions_per_client, 0, 100000000,
            "Subscriptions one session may hold; more get SUBACK 0x97 (0x80). 0: unlimited.");
  s->AddInt("max_topic_length", &max_topic_length, 1, 65535,
            "Longest topic name or filter, in bytes; longer ones are refused.");
  s->AddInt("max_topic_levels", &max_topic_levels, 0, 65535,
            "Most '/'-separated levels in a topic name, filter (after any $share/GROUP/) or "
            "will topic; deeper ones are refused (PUBACK/PUBREC 0x90, SUBACK 0x8F / 0x80, "
            "CONNACK 0x90). 0: unlimited.");
  s->AddInt("max_user_properties", &max_user_properties, 0, 268435455,
            "User Property entries in one packet's property block (MQTT 5); more: DISCONNECT "
            "0x97 (CONNACK 0x97 for a CONNECT). 0: unlimited.");
}

}  // namespace sluice::broker
