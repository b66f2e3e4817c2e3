// Authentication at CONNECT, and the ACL and per-client limits applied to each PUBLISH and
// SUBSCRIBE (issue 8). Every refusal is counted (BrokerStats) and logged with the client id;
// refusals of PUBLISH/SUBSCRIBE are logged at most once a second per connection (with the
// running count), so a flood cannot turn into a log flood.
#include <algorithm>
#include <ctime>

#include <utility>
#include <boost/asio/post.hpp>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/server/shard.h"
#include "mqtt/topic/levels.h"

namespace sluice::broker {

namespace reason = mqtt::reason;
using mqtt::Version;

bool Connection::Authenticate(mqtt::Connect& connect) {
  Security& security = shard_->broker().security();
  const BrokerConfig& config = shard_->broker().config();
  const bool v5 = version_ == Version::k5;
  const bool tls = stream_ && std::string_view(stream_->kind()) != "ws";
  if (tls && config.security.tls_use_identity_as_username) {
    // The verified certificate is the credential; what the client sent as user name and
    // password is ignored.
    if (stream_->identity().empty()) {
      BrokerStats::Inc(shard_->stats().auth_failures);
      RefuseConnect(v5 ? reason::kNotAuthorized : reason::kBadUserNameOrPassword,
                    "no verified client certificate identity");
      return false;
    }
    connect.username = stream_->identity();
    connect.password.reset();
    return true;
  }
  if (auto jwt = security.jwt()) {
    if (connect.password && auth::JwtVerifier::LooksLikeJwt(*connect.password)) {
      // A JWT: its signature and claims are the credential; "sub" is the user name.
      auto sub = jwt->Verify(*connect.password, static_cast<int64_t>(std::time(nullptr)));
      const char* why = nullptr;
      if (!sub.ok()) {
        why = "invalid token";
      } else if (connect.username && *connect.username != *sub) {
        why = "user name is not the token's subject";
      }
      if (why) {
        BrokerStats::Inc(shard_->stats().auth_failures);
        SLOG(kWarn).Kv("client_id", connect.client_id).Kv("peer", peer())
            .Kv("error", sub.ok() ? std::string(why) : std::string(sub.status().message()))
            << "JWT authentication failed";
        RefuseConnect(reason::kBadUserNameOrPassword, "bad user name or password");
        return false;
      }
      connect.username = *std::move(sub);
      connect.password.reset();
      return true;
    }
    if ((connect.username || connect.password) && !security.has_password_file()) {
      // Only tokens can prove an identity here: no password file to check against.
      BrokerStats::Inc(shard_->stats().auth_failures);
      SLOG(kWarn).Kv("client_id", connect.client_id).Kv("peer", peer())
          << "authentication failed: the password is not a JWT";
      RefuseConnect(reason::kBadUserNameOrPassword, "bad user name or password");
      return false;
    }
  }
  if (!connect.username) {
    if (config.allow_anonymous) return true;
    RefuseConnect(v5 ? reason::kNotAuthorized : reason::kBadUserNameOrPassword,
                  "anonymous access is disabled");
    return false;
  }
  const std::string password = connect.password.value_or("");
  if (security.PasswordCached(*connect.username, password)) return true;
  // PBKDF2 takes milliseconds: run it on the auth workers, stop reading meanwhile, and
  // continue on this shard's thread with the answer.
  std::string user = *connect.username;
  auto self = shared_from_this();
  auto work = [self, &security, user, password, connect = std::move(connect)]() mutable {
    bool ok = security.CheckPassword(user, password);
    Shard* shard = self->shard_;
    boost::asio::post(shard->io(), [self = std::move(self), ok, connect = std::move(connect)]() mutable {
      self->OnPasswordChecked(ok, std::move(connect));
    });
  };
  auth_pending_ = true;
  if (!security.SubmitAuthWork(std::move(work))) {
    auth_pending_ = false;
    BrokerStats::Inc(shard_->stats().auth_failures);
    if (ShouldLogLimit())
      SLOG(kWarn).Kv("client_id", client_id()).Kv("peer", peer())
          << "CONNECT refused: too many password checks waiting";
    RefuseConnect(reason::kServerBusy, "server busy");
  }
  return false;
}

void Connection::OnPasswordChecked(bool ok, mqtt::Connect connect) {
  auth_pending_ = false;
  if (terminated_) return;
  if (!ok) {
    BrokerStats::Inc(shard_->stats().auth_failures);
    SLOG(kWarn).Kv("client_id", connect.client_id).Kv("user", connect.username.value_or(""))
        .Kv("peer", peer()) << "authentication failed";
    RefuseConnect(reason::kBadUserNameOrPassword, "bad user name or password");
    return;
  }
  ContinueConnect(std::move(connect));
  // Packets the client sent behind its CONNECT, then more input.
  if (!terminated_ && !moved_) ProcessInput();
  if (!terminated_ && !moved_) DoRead();
}

void Connection::ContinueConnect(mqtt::Connect connect) {
  uint32_t home = shard_->broker().HomeShard(connect.client_id);
  if (home != shard_->index()) {
    MoveToShard(home, std::move(connect));
    return;
  }
  CompleteConnect(std::move(connect));
}

void Connection::StartEnhancedAuth(mqtt::Connect connect) {
  Security& security = shard_->broker().security();
  if (*connect.properties.authentication_method != auth::kScramMethod ||
      !security.has_password_file()) {
    RefuseConnect(reason::kBadAuthenticationMethod,
                  "the only enhanced authentication method is SCRAM-SHA-256 (with a password_file)");
    return;
  }
  cold().scram = std::make_unique<auth::ScramServer>();
  auto server_first = cold().scram->Start(
      connect.properties.authentication_data.value_or(""),
      [&security](const std::string& user) { return security.ScramCredentialsFor(user); });
  if (!server_first.ok()) {
    BrokerStats::Inc(shard_->stats().auth_failures);
    SLOG(kWarn).Kv("client_id", connect.client_id).Kv("peer", peer())
        .Kv("error", server_first.status().message()) << "SCRAM authentication failed";
    cold().scram.reset();
    RefuseConnect(reason::kBadUserNameOrPassword, "malformed SCRAM client-first message");
    return;
  }
  mqtt::Auth challenge;
  challenge.reason_code = reason::kContinueAuthentication;
  challenge.properties.authentication_method = auth::kScramMethod;
  challenge.properties.authentication_data = *std::move(server_first);
  pending_connect_ = std::move(connect);
  Send(challenge);
}

void Connection::HandleAuthFrame(const mqtt::Auth& a) {
  if (a.reason_code != reason::kContinueAuthentication ||
      a.properties.authentication_method != pending_connect_->properties.authentication_method)
    return ProtocolError(reason::kProtocolError, "unexpected AUTH during SCRAM exchange");
  auto server_final = cold().scram->Finish(a.properties.authentication_data.value_or(""));
  mqtt::Connect connect = std::move(*pending_connect_);
  pending_connect_.reset();
  std::string user = cold().scram->user();
  cold().scram.reset();
  if (!server_final.ok()) {
    BrokerStats::Inc(shard_->stats().auth_failures);
    SLOG(kWarn).Kv("client_id", connect.client_id).Kv("user", user).Kv("peer", peer())
        .Kv("error", server_final.status().message()) << "SCRAM authentication failed";
    RefuseConnect(reason::kBadUserNameOrPassword, "SCRAM authentication failed");
    return;
  }
  connect.username = std::move(user);
  connect.password.reset();
  connect.properties.authentication_data = *std::move(server_final);  // goes into CONNACK
  ContinueConnect(std::move(connect));
}

void Connection::HandleReauth(const mqtt::Auth& a) {
  // MQTT 5 section 4.12.1: only a client that connected with enhanced authentication may
  // re-authenticate, with the same method; a failure ends the connection.
  if (cold().auth_method.empty() || a.properties.authentication_method != cold().auth_method)
    return ProtocolError(reason::kProtocolError, "AUTH without enhanced authentication");
  Security& security = shard_->broker().security();
  auto fail = [&](const std::string& why) {
    BrokerStats::Inc(shard_->stats().auth_failures);
    SLOG(kWarn).Kv("client_id", client_id()).Kv("user", username()).Kv("peer", peer())
        .Kv("error", why) << "SCRAM re-authentication failed";
    cold().scram.reset();
    Terminate(reason::kNotAuthorized, WillAction::kPublish, "re-authentication failed");
  };
  if (a.reason_code == reason::kReauthenticate && !cold().scram) {
    cold().scram = std::make_unique<auth::ScramServer>();
    auto server_first = cold().scram->Start(
        a.properties.authentication_data.value_or(""),
        [&security](const std::string& user) { return security.ScramCredentialsFor(user); });
    if (!server_first.ok()) return fail(std::string(server_first.status().message()));
    mqtt::Auth challenge;
    challenge.reason_code = reason::kContinueAuthentication;
    challenge.properties.authentication_method = cold().auth_method;
    challenge.properties.authentication_data = *std::move(server_first);
    Send(challenge);
    return;
  }
  if (a.reason_code == reason::kContinueAuthentication && cold().scram) {
    auto server_final = cold().scram->Finish(a.properties.authentication_data.value_or(""));
    std::string user = cold().scram->user();
    cold().scram.reset();
    if (!server_final.ok()) return fail(std::string(server_final.status().message()));
    if (user != username()) return fail("re-authenticated as another user");
    mqtt::Auth done;
    done.reason_code = reason::kSuccess;
    done.properties.authentication_method = cold().auth_method;
    done.properties.authentication_data = *std::move(server_final);
    Send(done);
    return;
  }
  ProtocolError(reason::kProtocolError, "unexpected AUTH reason code");
}

const auth::ClientAcl* Connection::CurrentAcl() {
  Security& security = shard_->broker().security();
  uint64_t version = security.acl_version();
  if (version != (cold_ ? cold_->acl_version : 0)) {
    auto acl = security.AclFor(username(), client_id(), stream_ ? stream_->identity() : std::string());
    cold().acl = std::move(acl);
    cold().acl_version = version;
  }
  return cold_ ? cold_->acl.get() : nullptr;
}

bool Connection::ShouldLogLimit() {
  int64_t now = shard_->NowMs();
  if (now - cold().last_limit_log_ms < 1000) return false;
  cold().last_limit_log_ms = now;
  return true;
}

bool Connection::TopicWithinLimits(std::string_view topic) const {
  const SecurityConfig& c = shard_->broker().config().security;
  if (topic.size() > static_cast<size_t>(c.max_topic_length)) return false;
  if (c.max_topic_levels > 0 &&
      static_cast<int64_t>(topic::CountLevels(topic)) > c.max_topic_levels)
    return false;
  return true;
}

uint8_t Connection::PublishRefusal(const mqtt::Publish& p) {
  BrokerStats& stats = shard_->stats();
  if (!TopicWithinLimits(p.topic)) {
    BrokerStats::Inc(stats.topics_refused_limit);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("topic_bytes", p.topic.size())
          << "publish refused: topic longer or deeper than max_topic_length/max_topic_levels";
    return reason::kTopicNameInvalid;
  }
  if (shard_->broker().IsDeniedPublishNow(p.topic)) {
    BrokerStats::Inc(stats.publishes_denied);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("topic", p.topic)
          .Kv("denied_total", stats.publishes_denied.load()) << "publish denied";
    return reason::kNotAuthorized;
  }
  if (const auth::ClientAcl* acl = CurrentAcl(); acl && !acl->CanPublish(p.topic)) {
    BrokerStats::Inc(stats.publishes_denied);
    BrokerStats::Inc(stats.publishes_denied_acl);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("user", username()).Kv("topic", p.topic)
          .Kv("denied_total", stats.publishes_denied.load()) << "publish denied by ACL";
    return reason::kNotAuthorized;
  }
  const SecurityConfig& c = shard_->broker().config().security;
  if (c.max_publish_rate > 0 || c.max_publish_bytes_rate > 0) {
    // Token buckets holding one second's worth, refilled by the elapsed time.
    int64_t now = shard_->NowMs();
    double elapsed_s = cold().publish_tokens < 0 ? 0 : (now - cold().publish_refill_ms) / 1000.0;
    cold().publish_refill_ms = now;
    auto refill = [elapsed_s](double* tokens, int64_t rate) {
      if (*tokens < 0) *tokens = static_cast<double>(rate);
      *tokens = std::min(static_cast<double>(rate), *tokens + elapsed_s * rate);
    };
    refill(&cold().publish_tokens, c.max_publish_rate);
    refill(&cold().publish_byte_tokens, c.max_publish_bytes_rate);
    const double bytes = static_cast<double>(p.payload.size());
    const bool over = (c.max_publish_rate > 0 && cold().publish_tokens < 1) ||
                      (c.max_publish_bytes_rate > 0 && cold().publish_byte_tokens < bytes);
    if (over) {
      BrokerStats::Inc(stats.publishes_rate_limited);
      if (ShouldLogLimit())
        SLOG(kWarn).Kv("client_id", client_id()).Kv("dropped_total",
                                                    stats.publishes_rate_limited.load())
            << "publish dropped: max_publish_rate/max_publish_bytes_rate exceeded";
      return reason::kQuotaExceeded;
    }
    if (c.max_publish_rate > 0) cold().publish_tokens -= 1;
    if (c.max_publish_bytes_rate > 0) cold().publish_byte_tokens -= bytes;
  }
  return reason::kSuccess;
}

uint8_t Connection::SubscribeRefusal(const std::string& filter, std::string_view plain_filter) {
  BrokerStats& stats = shard_->stats();
  // Length counts the whole filter as sent; levels count what goes into the trie (a
  // $share/GROUP/ prefix is not part of it).
  if (filter.size() > static_cast<size_t>(shard_->broker().config().security.max_topic_length) ||
      !TopicWithinLimits(plain_filter)) {
    BrokerStats::Inc(stats.topics_refused_limit);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("filter_bytes", filter.size())
          << "subscribe refused: filter longer or deeper than max_topic_length/max_topic_levels";
    return reason::kTopicFilterInvalid;
  }
  if (shard_->broker().IsDeniedSubscribeNow(filter)) {
    BrokerStats::Inc(stats.subscribes_denied);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("filter", filter) << "subscribe denied";
    return reason::kNotAuthorized;
  }
  if (const auth::ClientAcl* acl = CurrentAcl(); acl && !acl->CanSubscribe(plain_filter)) {
    BrokerStats::Inc(stats.subscribes_denied);
    BrokerStats::Inc(stats.subscribes_denied_acl);
    if (ShouldLogLimit())
      SLOG(kInfo).Kv("client_id", client_id()).Kv("user", username()).Kv("filter", filter)
          << "subscribe denied by ACL";
    return reason::kNotAuthorized;
  }
  const int64_t max_subs = shard_->broker().config().security.max_subscriptions_per_client;
  if (max_subs > 0) {
    const auto& subs = host_->session.subscriptions();
    if (!subs.contains(filter) && static_cast<int64_t>(subs.size()) >= max_subs) {
      BrokerStats::Inc(stats.subscriptions_refused_limit);
      if (ShouldLogLimit())
        SLOG(kInfo).Kv("client_id", client_id()).Kv("subscriptions", subs.size())
            << "subscribe refused: max_subscriptions_per_client reached";
      return reason::kQuotaExceeded;
    }
  }
  return reason::kSuccess;
}

}  // namespace sluice::broker
