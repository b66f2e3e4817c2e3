#include "bridge/kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <map>

#include "bridge/kafka/errors.h"

namespace sluice::bridge::kafka {
namespace {

// Settings the bridge's guarantees depend on (see the header).
const std::map<std::string, std::string>& Enforced() {
  static const auto* m = new std::map<std::string, std::string>{
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"max.in.flight.requests.per.connection", "5"},
  };
  return *m;
}

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError("librdkafka property " + key + "=" + value + ": " + err);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const KafkaClientConfig& config, DeliveryFn on_delivery, ErrorFn on_error, int wake_fd) {
  std::unique_ptr<KafkaProducer> p(new KafkaProducer());
  p->on_delivery_ = std::move(on_delivery);
  p->on_error_ = std::move(on_error);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", config.bootstrap_servers},
      {"client.id", config.client_id},
      {"linger.ms", "5"},
      {"partitioner", "murmur2_random"},
      {"message.timeout.ms", "300000"},
  };
  for (const auto& kv : Enforced()) props.push_back(kv);
  for (const auto& [k, v] : config.properties) {
    auto it = Enforced().find(k);
    if (it != Enforced().end() && it->second != v &&
        !(k == "max.in.flight.requests.per.connection" && !v.empty() && std::atoi(v.c_str()) >= 1 &&
          std::atoi(v.c_str()) <= 5)) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("bridge.kafka.properties." + k +
                                        ": the bridge requires " + it->second);
    }
    props.emplace_back(k, v);
  }
  for (const auto& [k, v] : props) {
    absl::Status s = Set(conf, k, v);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    OnDeliveryReport(rk, m, opaque);
  });
  rd_kafka_conf_set_error_cb(conf, &KafkaProducer::OnError);
  char err[512];
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (p->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(std::string("creating the Kafka producer: ") + err);
  }
  if (wake_fd >= 0) {
    rd_kafka_queue_t* q = rd_kafka_queue_get_main(p->rk_);
    rd_kafka_queue_io_event_enable(q, wake_fd, "k", 1);
    rd_kafka_queue_destroy(q);
  }
  return p;
}

KafkaProducer::~KafkaProducer() {
  if (rk_ == nullptr) return;
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  on_delivery_ = nullptr;  // purged records must not reach the owner any more
  rd_kafka_destroy(rk_);
}

void KafkaProducer::OnDeliveryReport(rd_kafka_t*, const void* msg, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  const auto* m = static_cast<const rd_kafka_message_t*>(msg);
  if (!self->on_delivery_) return;
  uint64_t token = reinterpret_cast<uintptr_t>(m->_private);
  self->on_delivery_(token, KafkaStatus(m->err, "delivery"));
}

void KafkaProducer::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
  rd_kafka_resp_err_t code = static_cast<rd_kafka_resp_err_t>(err);
  std::string why = reason ? reason : "";
  if (fatal) {
    char buf[512];
    code = rd_kafka_fatal_error(rk, buf, sizeof(buf));
    why = buf;
  }
  if (self->on_error_) self->on_error_(KafkaStatus(code, "kafka client: " + why), fatal);
}

absl::Status KafkaProducer::Produce(const KafkaRecord& record, uint64_t token) {
  rd_kafka_headers_t* headers = nullptr;
  if (!record.headers.empty()) {
    headers = rd_kafka_headers_new(record.headers.size());
    for (const auto& [k, v] : record.headers) {
      rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
  }
  const void* key = record.key ? record.key->data() : nullptr;
  size_t key_len = record.key ? record.key->size() : 0;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<void*>(key), key_len),
      RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
      RD_KAFKA_V_TIMESTAMP(record.timestamp_ms), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(token))), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (headers != nullptr) rd_kafka_headers_destroy(headers);  // not taken over on error
    return KafkaStatus(err, "produce to " + record.topic);
  }
  return absl::OkStatus();
}

int KafkaProducer::Poll(int timeout_ms) { return rd_kafka_poll(rk_, timeout_ms); }

int KafkaProducer::OutQueueLength() const { return rd_kafka_outq_len(rk_); }

absl::Status KafkaProducer::FatalError() const {
  char buf[512];
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, buf, sizeof(buf));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::InternalError(std::string("fatal Kafka producer error: ") + rd_kafka_err2name(err) +
                             ": " + buf);
}

void KafkaProducer::PurgeAll() {
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

}  // namespace sluice::bridge::kafka
