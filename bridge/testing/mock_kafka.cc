#include "bridge/testing/mock_kafka.h"

#include <chrono>

#include "bridge/kafka/errors.h"

namespace sluice::bridge::testing {

absl::StatusOr<std::unique_ptr<MockKafka>> MockKafka::Start(int brokers) {
  std::unique_ptr<MockKafka> m(new MockKafka());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owning handle never talks to the cluster; it only hosts the mock's thread.
  rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof(err));
  m->owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (m->owner_ == nullptr) return absl::InternalError(std::string("mock owner: ") + err);
  m->cluster_ = rd_kafka_mock_cluster_new(m->owner_, brokers);
  if (m->cluster_ == nullptr) return absl::InternalError("rd_kafka_mock_cluster_new failed");
  m->brokers_ = brokers;
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->cluster_);
  return m;
}

MockKafka::~MockKafka() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (owner_ != nullptr) rd_kafka_destroy(owner_);
}

absl::Status MockKafka::CreateTopic(const std::string& topic, int partitions, int replication) {
  return kafka::KafkaStatus(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication),
                            "mock topic create");
}

void MockKafka::SetBrokerDown(int32_t id) { rd_kafka_mock_broker_set_down(cluster_, id); }
void MockKafka::SetBrokerUp(int32_t id) { rd_kafka_mock_broker_set_up(cluster_, id); }
void MockKafka::SetAllBrokers(bool up) {
  for (int32_t id = 1; id <= brokers_; ++id) up ? SetBrokerUp(id) : SetBrokerDown(id);
}

void MockKafka::PushProduceErrors(const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, /*ApiKey Produce*/ 0, errors.size(), errors.data());
}

absl::StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& bootstrap,
                                                      const std::string& topic, size_t count,
                                                      int64_t timeout_ms) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) return absl::InternalError(err);
  rd_kafka_poll_set_consumer(rk);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // Partition count from the metadata (the topic may be auto-created by the bridge).
  int partitions = 0;
  while (partitions == 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        partitions = md->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
  }
  std::vector<ConsumedRecord> out;
  if (partitions > 0) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ConsumedRecord r;
        r.topic = topic;
        r.partition = m->partition;
        r.offset = m->offset;
        if (m->key) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
        if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
        rd_kafka_headers_t* h = nullptr;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          size_t size;
          for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
            r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
          }
        }
        out.push_back(std::move(r));
      }
      rd_kafka_message_destroy(m);
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  if (partitions == 0) return absl::DeadlineExceededError("no metadata for topic " + topic);
  return out;
}

absl::Status ProduceRecords(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return absl::InternalError(err);
  for (const KafkaRecord& r : records) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(r.headers.size());
    for (const auto& [k, v] : r.headers) rd_kafka_header_add(h, k.data(), k.size(), v.data(), v.size());
    const void* key = r.key ? r.key->data() : nullptr;
    size_t key_len = r.key ? r.key->size() : 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<void*>(key), key_len),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(h);
      rd_kafka_destroy(rk);
      return kafka::KafkaStatus(e, "produce");
    }
  }
  rd_kafka_resp_err_t e = rd_kafka_flush(rk, 10'000);
  rd_kafka_destroy(rk);
  return kafka::KafkaStatus(e, "flush");
}

}  // namespace sluice::bridge::testing
