#include "bridge/kafka/consumer.h"

#include <librdkafka/rdkafka.h>

#include "bridge/kafka/errors.h"

namespace sluice::bridge::kafka {

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const ConsumerOptions& options) {
  if (options.topics.empty()) return absl::InvalidArgumentError("consumer: no topics");
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", options.client.bootstrap_servers},
      {"client.id", options.client.client_id},
      {"group.id", options.group_id},
      {"enable.auto.commit", "true"},
      {"enable.auto.offset.store", "false"},
      {"auto.commit.interval.ms", "1000"},
      {"auto.offset.reset", options.start_from == StartFrom::kEarliest ? "earliest" : "latest"},
  };
  for (const auto& kv : options.client.properties) {
    if (kv.first == "enable.auto.offset.store") {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("bridge.kafka.properties.enable.auto.offset.store: the bridge stores offsets itself");
    }
    props.push_back(kv);
  }
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError("librdkafka property " + k + "=" + v + ": " + err);
    }
  }
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (c->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(std::string("creating the Kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(c->rk_);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size()));
  for (const std::string& t : options.topics) {
    rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(e, "subscribe");
  return c;
}

KafkaConsumer::~KafkaConsumer() {
  if (rk_ == nullptr) return;
  Close();
  rd_kafka_destroy(rk_);
}

absl::StatusOr<std::optional<ConsumedRecord>> KafkaConsumer::Poll(int timeout_ms) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout_ms);
  if (m == nullptr) return std::optional<ConsumedRecord>();
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> guard(m, rd_kafka_message_destroy);
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return std::optional<ConsumedRecord>();
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaStatus(m->err, "consume");
  ConsumedRecord r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->key != nullptr) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_timestamp_type_t tstype;
  r.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
    }
  }
  return std::optional<ConsumedRecord>(std::move(r));
}

absl::Status KafkaConsumer::StoreOffset(const ConsumedRecord& record) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, record.topic.c_str(), record.partition)->offset = record.offset + 1;
  rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  return KafkaStatus(e, "store offset");
}

absl::Status KafkaConsumer::Commit() {
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_, nullptr, /*async=*/0);
  if (e == RD_KAFKA_RESP_ERR__NO_OFFSET) return absl::OkStatus();
  return KafkaStatus(e, "commit");
}

absl::Status KafkaConsumer::PauseAssigned() {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_assignment(rk_, &parts);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) e = rd_kafka_pause_partitions(rk_, parts);
  if (parts != nullptr) rd_kafka_topic_partition_list_destroy(parts);
  return KafkaStatus(e, "pause");
}

absl::Status KafkaConsumer::ResumeAssigned() {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_assignment(rk_, &parts);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) e = rd_kafka_resume_partitions(rk_, parts);
  if (parts != nullptr) rd_kafka_topic_partition_list_destroy(parts);
  return KafkaStatus(e, "resume");
}

absl::Status KafkaConsumer::Rewind(const ConsumedRecord& record) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, record.topic.c_str(), record.partition)->offset = record.offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list, /*timeout_ms=*/5000);
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (error != nullptr) {
    e = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
  } else if (list->cnt > 0) {
    e = list->elems[0].err;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return KafkaStatus(e, "seek");
}

void KafkaConsumer::Close() {
  if (closed_) return;
  closed_ = true;
  (void)Commit();
  rd_kafka_consumer_close(rk_);
}

}  // namespace sluice::bridge::kafka
