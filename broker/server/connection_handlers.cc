// The MQTT protocol rules for each packet a client sends (MQTT 3.1.1 and 5.0).
#include <algorithm>
#include <cstdio>

#include "base/log.h"
#include "broker/server/broker.h"
#include "broker/server/connection.h"
#include "broker/protocol/connect_rules.h"
#include "broker/protocol/inbound_publish.h"
#include "broker/server/shard.h"
#include "mqtt/topic/topic.h"

namespace sluice::broker {

namespace reason = mqtt::reason;
using mqtt::Version;

void Connection::HandlePacket(mqtt::Packet& packet) {
  if (!connected_) {
    if (auto* c = std::get_if<mqtt::Connect>(&packet); c && !pending_connect_) {
      HandleConnectFrame(*c);
    } else if (auto* a = std::get_if<mqtt::Auth>(&packet); a && pending_connect_) {
      HandleAuthFrame(*a);  // enhanced authentication in progress (connection_security.cc)
    } else {
      ProtocolError(reason::kProtocolError, "first packet is not CONNECT");
    }
    return;
  }
  std::visit(
      [this](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, mqtt::Publish>) {
          HandlePublish(p);
        } else if constexpr (std::is_same_v<T, mqtt::Ack>) {
          HandleAck(p);
        } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
          HandleSubscribe(p);
        } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
          HandleUnsubscribe(p);
        } else if constexpr (std::is_same_v<T, mqtt::Pingreq>) {
          Send(mqtt::Pingresp{});
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          HandleDisconnect(p);
        } else if constexpr (std::is_same_v<T, mqtt::Connect>) {
          ProtocolError(reason::kProtocolError, "second CONNECT");
        } else if constexpr (std::is_same_v<T, mqtt::Auth>) {
          HandleReauth(p);  // MQTT 5 re-authentication (connection_security.cc)
        } else {
          ProtocolError(reason::kProtocolError, "packet only a server may send");
        }
      },
      packet);
}

void Connection::RefuseConnect(uint8_t code, const char* why) {
  BrokerStats::Inc(shard_->stats().connect_refused);
  BrokerStats::Inc(shard_->stats().connect_refused_reason[code]);
  SLOG(kInfo).Kv("peer", peer()).Kv("client_id", client_id()).Kv("reason", static_cast<int>(code))
      << "CONNECT refused: " << why;
  mqtt::Connack ack;
  ack.reason_code = code;
  if (version_ == Version::k5) ack.properties.reason_string = why;
  Send(ack);
  Terminate(std::nullopt, WillAction::kDiscard);
}

void Connection::HandleConnectFrame(mqtt::Connect& connect) {
  version_ = connect.version;
  own_id_ = std::make_unique<std::string>(connect.client_id);
  if (connect.client_id.empty()) {
    // MQTT 3.1.1 requires clean session with an empty id (3.1.3-8); MQTT 5 lets the server
    // assign one, which the client may use to resume the session later.
    if (!connect.clean_start && version_ != Version::k5) {
      RefuseConnect(reason::kClientIdentifierNotValid,
                    "empty client id needs a clean session");
      return;
    }
    char id[40];
    std::snprintf(id, sizeof id, "auto-%016llx%08x",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(this)) ^
                      static_cast<unsigned long long>(shard_->NowMs()),
                  shard_->index());
    connect.client_id = id;
    if (version_ == Version::k5) connect.properties.assigned_client_identifier = connect.client_id;
  }
  if (connect.will && !TopicWithinLimits(connect.will->topic)) {
    // The will is published (and maybe retained) into the tries later: the same limits as
    // a PUBLISH's topic apply now, while the client can still be told.
    BrokerStats::Inc(shard_->stats().topics_refused_limit);
    RefuseConnect(reason::kTopicNameInvalid,
                  "will topic longer or deeper than max_topic_length/max_topic_levels");
    return;
  }
  if (connect.properties.authentication_method) {
    // MQTT 5 enhanced authentication: SCRAM-SHA-256, else 0x8C (connection_security.cc).
    StartEnhancedAuth(std::move(connect));
    return;
  }
  // allow_anonymous, password file, certificate identity (connection_security.cc).
  if (!Authenticate(connect)) return;
  uint32_t home = shard_->broker().HomeShard(connect.client_id);
  if (home != shard_->index()) {
    MoveToShard(home, std::move(connect));
    return;
  }
  CompleteConnect(std::move(connect));
}

void Connection::CompleteConnect(mqtt::Connect connect) {
  if (SessionClaims* claims = shard_->claims(); claims && !claim_admitted_) {
    // Cluster: first the client id's claim, so that one connection of it lives in the
    // whole cluster (session_claims.h). Input waits meanwhile.
    claim_token_ = claims->Start(shared_from_this(), connect.client_id);
    if (claim_token_ == 0) {
      RefuseConnect(reason::kServerBusy, "too many CONNECTs wait for their cluster claim");
      return;
    }
    auth_pending_ = true;
    pending_connect_ = std::move(connect);
    return;
  }
  const BrokerConfig& config = shard_->broker().config();
  version_ = connect.version;
  own_id_ = std::make_unique<std::string>(connect.client_id);
  if (connect.username) cold().username = *connect.username;
  const bool v5 = version_ == Version::k5;

  // What the packet and the settings decide alone (broker/protocol/connect_rules.h).
  const protocol::Negotiated n = protocol::NegotiateConnect(
      connect, {config.max_session_expiry, config.max_inflight, config.server_keep_alive,
                config.max_keep_alive, config.receive_maximum, config.max_packet_size,
                config.topic_alias_maximum});
  const uint32_t expiry = n.expiry_s;
  mqtt::Connack ack;
  ack.properties = n.connack;
  bool session_present = false;
  host_ = shard_->TakeSession(connect.client_id, connect.clean_start, shared_from_this(),
                              &session_present);
  own_id_.reset();  // the session's copy serves from now on
  host_->version = version_;
  host_->expiry_s = expiry;
  host_->session.Attach(n.window);
  shard_->UpdatePersistence(host_, session_present);
  will_ = std::move(connect.will);
  keep_alive_s_ = n.keep_alive_s;
  client_max_packet_size_ = n.client_max_packet_size;
  out_alias_max_ = n.out_alias_max;
  problem_information_ = n.problem_information;
  in_alias_max_ = n.in_alias_max;
  if (v5) {
    ack.properties.assigned_client_identifier = connect.properties.assigned_client_identifier;
    if (connect.properties.authentication_method) {  // enhanced authentication succeeded
      cold().auth_method = *connect.properties.authentication_method;
      ack.properties.authentication_method = connect.properties.authentication_method;
      ack.properties.authentication_data = connect.properties.authentication_data;
    }
  }
  ack.session_present = session_present;
  ack.reason_code = reason::kSuccess;
  Send(ack);
  connected_ = true;
  BrokerStats::Inc(shard_->stats().connections_accepted);
  SLOG(kDebug).Kv("client_id", client_id()).Kv("peer", peer()).Kv("version", static_cast<int>(version_))
      .Kv("session_present", session_present) << "client connected";
  if (keep_alive_s_ > 0) {
    ArmTimer(static_cast<int64_t>(keep_alive_s_) * 1500);
  } else {
    shard_->CancelDeadline(this);
  }
  // A resumed session re-sends its window (messages read back from the log first), then reads
  // on from where it stands.
  shard_->LoadInflight(host_);
  std::vector<Outbound> out;
  host_->session.Resume(shard_->NowMs(), &out);
  SendOutbound(out);
  if (host_) shard_->reader().WakeIfWanted(*host_);
}

void Connection::OnClaimAdmitted() {
  auth_pending_ = false;
  claim_admitted_ = true;
  if (terminated_) return;
  mqtt::Connect connect = std::move(*pending_connect_);
  pending_connect_.reset();
  CompleteConnect(std::move(connect));
  // Packets the client sent behind its CONNECT, then more input.
  if (!terminated_ && !moved_) ProcessInput();
  if (!terminated_ && !moved_) DoRead();
}

void Connection::OnClaimFailed(const absl::Status& why) {
  auth_pending_ = false;
  claim_token_ = 0;
  if (terminated_) return;
  pending_connect_.reset();
  SLOG(kWarn).Kv("client_id", client_id()).Kv("peer", peer()).Kv("error", why.message())
      << "the cluster did not confirm the client id's claim";
  RefuseConnect(reason::kServerUnavailable, "the cluster did not confirm the client id");
}

void Connection::HandlePublish(mqtt::Publish& p) {
  const BrokerConfig& config = shard_->broker().config();
  const bool v5 = version_ == Version::k5;
  // Topic alias, topic name, properties a client may not send, flow control
  // (broker/protocol/inbound_publish.h).
  if (p.properties.topic_alias) {
    protocol::TopicAliases& aliases = cold().in_aliases;
    aliases.set_max(in_alias_max_);
    if (protocol::Violation v = aliases.Resolve(p)) return ProtocolError(v.reason, v.what);
  }
  if (protocol::Violation v = protocol::CheckInboundPublish(
          p, version_, host_->session.incoming_qos2(), config.receive_maximum))
    return ProtocolError(v.reason, v.what);

  // deny_publish, ACL, rate and topic limits (connection_security.cc): counted and logged
  // there; a refused message is not routed (3.1.1: acknowledged and dropped).
  uint8_t code = PublishRefusal(p);
  const mqtt::PacketType ack_type =
      p.qos == 1 ? mqtt::PacketType::kPuback : mqtt::PacketType::kPubrec;
  if (code != reason::kSuccess) {
  } else if (p.qos == 2 && !host_->session.BeginIncomingQos2(p.packet_id)) {
    // A re-sent QoS 2 PUBLISH whose PUBREL has not come yet: acknowledge (once the first copy
    // is durable, if it is still being stored), never store or deliver it again.
    IncomingQos2* stored = shard_->FindStoredQos2(host_, p.packet_id);
    if (stored && !stored->stored) {
      uint64_t seq = QueueAck(ack_type, p.packet_id, reason::kSuccess, false);
      stored->waiters.push_back([self = shared_from_this(), seq](bool ok) {
        self->CompleteAck(seq, ok ? reason::kSuccess : reason::kUnspecifiedError);
      });
      return;
    }
    QueueAck(ack_type, p.packet_id, reason::kSuccess, true);
    return;
  } else {
    auto message = std::make_shared<Message>();
    message->topic = std::move(p.topic);
    message->payload = std::move(p.payload);
    message->qos = p.qos;
    message->retain = p.retain;
    message->properties = std::move(p.properties);
    message->publisher = client_id();
    message->received_ms = shard_->NowMs();
    if (shard_->broker().StoresBeforeRouting(*message)) {
      // Acknowledged once the log holds it; routed by the partition's owner shard.
      const uint16_t id = p.packet_id;
      const uint8_t qos = p.qos;
      const uint32_t partition = shard_->broker().durable()->PartitionFor(message->topic);
      uint64_t seq = QueueAck(ack_type, id, reason::kSuccess, false);
      if (qos == 2) shard_->BeginStoredQos2(host_, id, partition);
      const int64_t received_ms = message->received_ms;
      shard_->PublishStored(std::move(message), partition, qos == 2 ? id : 0,
                            [self = shared_from_this(), seq, id, qos, partition, received_ms](
                                absl::StatusOr<size_t> r) {
                              if (r.ok())
                                self->shard_->stats().publish_ack_latency.Observe(
                                    self->shard_->NowMs() - received_ms);
                              self->OnStored(seq, id, qos, partition, std::move(r));
                            });
      return;
    }
    size_t matched = shard_->PublishNow(std::move(message));
    if (matched == 0 && v5) code = reason::kNoMatchingSubscribers;
  }
  if (p.qos > 0) QueueAck(ack_type, p.packet_id, v5 ? code : uint8_t{0}, true);
}

void Connection::HandleAck(const mqtt::Ack& ack) {
  std::vector<Outbound> out;
  int64_t now = shard_->NowMs();
  Session& session = host_->session;
  switch (ack.type) {
    case mqtt::PacketType::kPuback:
      shard_->stats().ObserveAck(session, ack.packet_id, now);
      session.OnPuback(ack.packet_id, now, &out);
      break;
    case mqtt::PacketType::kPubrec:
      if (!session.OnPubrec(ack.packet_id, ack.reason_code, now, &out) &&
          ack.reason_code < 0x80) {
        Send(mqtt::Ack{mqtt::PacketType::kPubrel, ack.packet_id,
                       reason::kPacketIdentifierNotFound, {}});
      }
      break;
    case mqtt::PacketType::kPubcomp:
      shard_->stats().ObserveAck(session, ack.packet_id, now);
      session.OnPubcomp(ack.packet_id, now, &out);
      break;
    case mqtt::PacketType::kPubrel:
      HandlePubrel(ack.packet_id);
      return;
    default:
      break;
  }
  shard_->MarkDirty(host_);
  SendOutbound(out);
  // A freed window slot: a session behind reads on.
  if (host_) shard_->reader().WakeIfWanted(*host_);
}

void Connection::HandleSubscribe(mqtt::Subscribe& s) {
  const bool v5 = version_ == Version::k5;
  Broker& broker = shard_->broker();
  uint32_t sub_id = s.properties.subscription_identifiers.empty()
                        ? 0 : s.properties.subscription_identifiers.front();
  struct Add {
    std::string filter, group, full;
    topic::SubscriptionOptions options;
    bool is_new;
    size_t code_index;  // its reason code in the SUBACK
  };
  auto adds = std::make_shared<std::vector<Add>>();
  std::vector<uint8_t> codes;
  std::optional<ReplaySpec> replay;
  if (auto value = v5 ? FindReplayProperty(s.properties) : std::nullopt) {
    replay = ParseReplaySpec(*value);
    if (!replay) {
      // Nothing is subscribed: a client asking for history must not silently get only live.
      mqtt::Suback refused;
      refused.packet_id = s.packet_id;
      refused.reason_codes.assign(s.subscriptions.size(), reason::kImplementationSpecificError);
      if (problem_information_)
        refused.properties.reason_string =
            "bad sluice-replay value (earliest, latest, time:<ms>, offset:<p>:<o>,...)";
      Send(refused);
      return;
    }
  }
  for (const auto& req : s.subscriptions) {
    topic::ParsedFilter parsed;
    if (!topic::ParseFilter(req.filter, &parsed)) {
      codes.push_back(v5 ? reason::kTopicFilterInvalid : reason::kUnspecifiedError);
      continue;
    }
    if (parsed.shared && req.no_local)
      return ProtocolError(reason::kProtocolError, "no local on a shared subscription");
    // deny_subscribe, ACL, subscription and topic limits (connection_security.cc).
    if (uint8_t refusal = SubscribeRefusal(req.filter, parsed.filter); refusal != reason::kSuccess) {
      codes.push_back(v5 ? refusal : reason::kUnspecifiedError);
      continue;
    }
    topic::SubscriptionOptions options{req.qos, req.no_local, req.retain_as_published,
                                       req.retain_handling, sub_id};
    auto& subs = host_->session.subscriptions();
    bool is_new = !subs.contains(req.filter);
    subs[req.filter] = options;
    if (host_->session.behind() && broker.durable()) {
      // What the session reads back from the log must not include messages published before
      // this subscription.
      host_->subscribed_at.GetOrCreate()[req.filter] = broker.durable()->HighWatermarks();
    }
    adds->push_back({std::string(parsed.filter), std::string(parsed.group), req.filter, options,
                     is_new, codes.size()});
    codes.push_back(req.qos);
  }
  mqtt::Suback suback;
  suback.packet_id = s.packet_id;
  suback.reason_codes = std::move(codes);
  if (adds->empty()) {
    Send(suback);
    return;
  }
  const uint32_t home = shard_->index();
  std::string client_id = this->client_id();
  broker.Broadcast(
      home,
      [adds, client_id, home](Shard& shard) {
        for (const auto& a : *adds) shard.trie().Add(a.filter, a.group, client_id, home, a.options);
      },
      [self = shared_from_this(), adds, suback = std::move(suback), replay]() {
        if (self->terminated_) return;
        std::vector<std::pair<std::string, topic::SubscriptionOptions>> wanted, replayed;
        for (const auto& a : *adds) {
          if (replay && a.group.empty()) replayed.emplace_back(a.filter, a.options);
          // Retained messages are not sent to shared subscriptions (MQTT 5 section 4.8.2).
          if (!a.group.empty()) continue;
          if (a.options.retain_handling == 0 || (a.options.retain_handling == 1 && a.is_new))
            wanted.emplace_back(a.filter, a.options);
        }
        if (!self->host_->durable)
          return self->FinishSubscribe(suback, std::move(wanted), replay, replayed);
        // A persistent session's subscriptions are durable before SUBACK; if saving them
        // fails, the new ones are taken back and refused (a SUBACK must not promise what a
        // restart would lose).
        self->shard_->SaveSession(self->host_, [self, adds, suback, wanted, replay, replayed](
                                                   absl::Status st) mutable {
          if (self->terminated_) return;
          if (!st.ok()) {
            self->shard_->OnSessionSaveFailed(self->host_, "SUBSCRIBE", st);
            std::vector<std::pair<std::string, std::string>> undo;
            for (const Add& a : *adds) {
              suback.reason_codes[a.code_index] = reason::kUnspecifiedError;  // 0x80, both versions
              if (!a.is_new) continue;  // an update of an existing one stays, not durable
              self->host_->session.subscriptions().erase(a.full);
              undo.emplace_back(a.filter, a.group);
            }
            self->shard_->RemoveFromTries(self->client_id(), std::move(undo));
            self->Send(suback);
            return;
          }
          self->FinishSubscribe(suback, std::move(wanted), replay, replayed);
        });
      });
}

void Connection::FinishSubscribe(
    const mqtt::Suback& suback,
    std::vector<std::pair<std::string, topic::SubscriptionOptions>> retained,
    const std::optional<ReplaySpec>& replay,
    const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& replayed) {
  Send(suback);
  if (!retained.empty()) SendRetained(retained);
  if (replay) Replay(*replay, replayed);
}

void Connection::SendRetained(
    const std::vector<std::pair<std::string, topic::SubscriptionOptions>>& subs) {
  std::vector<Outbound> out;
  int64_t now = shard_->NowMs();
  for (const auto& [filter, options] : subs) {
    for (const MessagePtr& m : shard_->broker().retained().Match(filter)) {
      Delivery d;
      d.message = m;
      d.qos = std::min(m->qos, options.qos);
      d.retain = true;
      d.retained_copy = true;
      if (options.subscription_id) d.subscription_ids.push_back(options.subscription_id);
      host_->session.Offer(std::move(d), now, &out);
    }
  }
  SendOutbound(out);
}

void Connection::HandleUnsubscribe(const mqtt::Unsubscribe& u) {
  auto removes = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  // What was removed, to put back if saving the session fails.
  auto removed = std::make_shared<std::vector<std::pair<std::string, topic::SubscriptionOptions>>>();
  mqtt::Unsuback ack;
  ack.packet_id = u.packet_id;
  auto& subs = host_->session.subscriptions();
  for (const auto& f : u.filters) {
    auto it = subs.find(f);
    if (it == subs.end()) {
      ack.reason_codes.push_back(reason::kNoSubscriptionExisted);
      continue;
    }
    removed->emplace_back(it->first, it->second);
    subs.erase(it);
    ack.reason_codes.push_back(reason::kSuccess);
    topic::ParsedFilter parsed;
    if (topic::ParseFilter(f, &parsed))
      removes->emplace_back(std::string(parsed.filter), std::string(parsed.group));
  }
  if (removes->empty()) {
    Send(ack);
    return;
  }
  std::string client_id = this->client_id();
  shard_->broker().Broadcast(
      shard_->index(),
      [removes, client_id](Shard& shard) {
        for (const auto& [filter, group] : *removes) shard.trie().Remove(filter, group, client_id);
      },
      [self = shared_from_this(), ack = std::move(ack), removed]() {
        if (self->terminated_) return;
        if (!self->host_->durable) return self->Send(ack);
        self->shard_->SaveSession(self->host_, [self, ack, removed](absl::Status st) mutable {
          if (self->terminated_) return;
          if (st.ok()) return self->Send(ack);
          // The removal is not durable: the subscriptions come back, and the client is told
          // (5.0: UNSUBACK 0x80 for each; 3.1.1 has no negative UNSUBACK, so the connection
          // closes and the client unsubscribes again after reconnecting).
          self->shard_->OnSessionSaveFailed(self->host_, "UNSUBSCRIBE", st);
          self->shard_->Resubscribe(self->host_, *removed);
          if (self->version_ != Version::k5) {
            self->Terminate(std::nullopt, WillAction::kPublish, "session not saved");
            return;
          }
          for (uint8_t& code : ack.reason_codes)
            if (code == reason::kSuccess) code = reason::kUnspecifiedError;
          self->Send(ack);
        });
      });
}

void Connection::HandleDisconnect(const mqtt::Disconnect& d) {
  if (version_ == Version::k5 && d.properties.session_expiry_interval) {
    if (host_->expiry_s == 0 && *d.properties.session_expiry_interval != 0)
      return ProtocolError(reason::kProtocolError, "session expiry set on DISCONNECT after 0");
    host_->expiry_s = std::min<uint32_t>(*d.properties.session_expiry_interval,
                                         static_cast<uint32_t>(shard_->broker().config().max_session_expiry));
  }
  bool with_will = version_ == Version::k5 && d.reason_code == reason::kDisconnectWithWill;
  Terminate(std::nullopt, with_will ? WillAction::kPublish : WillAction::kDiscard);
}

bool Connection::EncodePublish(Outbound& o) {
  const Message& m = *o.delivery.message;
  mqtt::PublishView p;
  p.topic = m.topic;
  p.payload = m.payload;
  p.qos = o.delivery.qos;
  p.retain = o.delivery.retain;
  p.dup = o.dup;
  p.packet_id = o.packet_id;
  bool new_alias = false;
  if (version_ == Version::k5) {
    p.properties = &m.properties;
    p.subscription_identifiers = &o.delivery.subscription_ids;
    if (o.has_expiry) p.message_expiry_interval = o.expiry_s;
    if (out_alias_max_ > 0) {
      auto& out_aliases = cold().out_aliases;
      auto it = out_aliases.find(Av(m.topic));
      if (it != out_aliases.end()) {
        p.topic = {};
        p.topic_alias = it->second;
      } else if (out_aliases.size() < out_alias_max_) {
        p.topic_alias = static_cast<uint16_t>(out_aliases.size() + 1);
        new_alias = true;
      }
    }
  }
  if (mqtt::EncodedPublishSize(p, version_) > client_max_packet_size_) return false;
  // The alias is the client's only once a PUBLISH carrying topic and alias has been sent.
  if (new_alias) cold().out_aliases.emplace(m.topic, *p.topic_alias);
  mqtt::EncodePublish(p, version_, &out_pending_);
  BrokerStats::Inc(shard_->stats().packets_sent[3]);
  return true;
}

void Connection::SendOutbound(std::vector<Outbound>& out) {
  if (terminated_ || moved_) return;
  const auto max_buffer = static_cast<size_t>(shard_->broker().config().max_write_buffer_bytes);
  // Discard() may release window slots and emit more, so iterate by index.
  for (size_t i = 0; i < out.size(); ++i) {
    Outbound& o = out[i];
    if (o.kind == Outbound::Kind::kPubrel) {
      mqtt::Encode(mqtt::Ack{mqtt::PacketType::kPubrel, o.packet_id, reason::kSuccess, {}},
                   version_, &out_pending_);
      BrokerStats::Inc(shard_->stats().packets_sent[6]);
      continue;
    }
    if (o.packet_id == 0 && out_pending_.size() > max_buffer) {
      BrokerStats::Inc(shard_->stats().messages_dropped_write_buffer);
      continue;
    }
    if (!EncodePublish(o)) {
      BrokerStats::Inc(shard_->stats().messages_dropped_too_large);
      SLOG(kInfo).Kv("client_id", client_id()).Kv("topic", o.delivery.message->topic)
          << "message larger than the client's maximum packet size, dropped";
      if (o.packet_id && host_) host_->session.Discard(o.packet_id, shard_->NowMs(), &out);
      continue;
    }
    BrokerStats::Inc(shard_->stats().messages_delivered);
    BrokerStats::Inc(shard_->stats().messages_delivered_qos[std::min<uint8_t>(o.delivery.qos, 2)]);
    shard_->stats().delivery_latency.Observe(shard_->NowMs() - o.delivery.message->received_ms);
  }
  StartWrite();
}

}  // namespace sluice::broker
