// Drives every sluicectl command against a real sluiced over real sockets, and checks both the
// output and the effect on the broker (seen by raw MQTT clients).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>

#include "proto/admin.pb.h"
#include "storage/log/partitioner.h"
#include "storage/log/record.h"
#include "tests/conformance/harness.h"
#include "tests/ops/ctl_util.h"
#include "tests/ops/ops_util.h"

namespace sluice::conformance {
namespace {

using ops_test::ParseJson;
using ops_test::RunTool;
using ops_test::Sluicectl;
using ops_test::ToolResult;
using ::testing::HasSubstr;
using ::testing::Not;


class SluicectlTest : public ConformanceTest {
 protected:
  // Starts the broker (default flags) if the test has not.
  std::string Server() {
    port();
    return "127.0.0.1:" + std::to_string(broker_ ? broker_->admin_port() : 0);
  }

  // sluicectl --server=<this broker> ARGS...
  ToolResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {Sluicectl(), "--server=" + Server()});
    return RunTool(args, {}, {"SLUICE_ADMIN"});
  }
  // sluicectl ARGS... with no --server and no SLUICE_ADMIN (usage errors need no server).
  ToolResult Bare(std::vector<std::string> args) {
    args.insert(args.begin(), Sluicectl());
    return RunTool(args, {}, {"SLUICE_ADMIN"});
  }
};


#define EXPECT_EXIT_CODE(result, code) \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n" << (result).out << "stderr:\n" << (result).err

TEST_F(SluicectlTest, StatusTableAndJson) {
  START_BROKER({"--threads=2"});
  ASSERT_NE(broker_->admin_port(), 0) << "sluiced did not report its admin port";
  ToolResult r = Ctl({"status"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("ROLE              standalone"));
  EXPECT_THAT(r.out, HasSubstr("SHARDS            2"));
  EXPECT_THAT(r.out, HasSubstr("LISTENER mqtt     127.0.0.1:" + std::to_string(port())));
  r = Ctl({"status", "-o", "json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("\"role\": \"standalone\""));
  EXPECT_THAT(r.out, HasSubstr("\"name\": \"admin\""));
  // The environment variable names the server when --server is absent.
  r = RunTool({Sluicectl(), "status"}, {"SLUICE_ADMIN=" + Server()});
  EXPECT_EXIT_CODE(r, 0);
}

TEST_F(SluicectlTest, ClientsListGetAndPaging) {
  auto alpha = Client5("alpha", Properties().Add(kSessionExpiry, 300));
  auto beta = Client311("beta");
  auto gone = Client5("gone", Properties().Add(kSessionExpiry, 300));
  gone->Send(Disconnect(kV5));
  ASSERT_TRUE(gone->ExpectClosed());

  ToolResult r = Ctl({"clients", "list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("CLIENT ID"));
  EXPECT_THAT(r.out, HasSubstr("alpha"));
  EXPECT_THAT(r.out, HasSubstr("beta"));
  EXPECT_THAT(r.out, HasSubstr("gone"));
  r = Ctl({"clients", "list", "--prefix", "al"});
  EXPECT_THAT(r.out, HasSubstr("alpha"));
  EXPECT_THAT(r.out, Not(HasSubstr("beta")));
  r = Ctl({"clients", "list", "--state=disconnected"});
  EXPECT_THAT(r.out, HasSubstr("gone"));
  EXPECT_THAT(r.out, Not(HasSubstr("alpha")));
  r = Ctl({"clients", "list", "--state=connected", "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("\"client_id\": \"alpha\""));
  EXPECT_THAT(r.out, Not(HasSubstr("\"gone\"")));

  // Paging: one per page, in client id order.
  r = Ctl({"clients", "list", "--limit", "1"});
  EXPECT_THAT(r.out, HasSubstr("alpha"));
  EXPECT_THAT(r.out, HasSubstr("--page-token=alpha"));
  r = Ctl({"clients", "list", "--limit", "1", "--page-token", "alpha"});
  EXPECT_THAT(r.out, HasSubstr("beta"));
  EXPECT_THAT(r.out, Not(HasSubstr("alpha ")));
  r = Ctl({"clients", "list", "--limit", "1", "--all"});
  EXPECT_THAT(r.out, HasSubstr("alpha"));
  EXPECT_THAT(r.out, HasSubstr("gone"));

  r = Ctl({"clients", "get", "alpha"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("connected"));
  EXPECT_THAT(r.out, HasSubstr("5.0"));
  EXPECT_THAT(r.out, HasSubstr("300s"));
  // Where the client connects from and since when (the connection's address and start).
  EXPECT_THAT(r.out, HasSubstr("PEER                  127.0.0.1:"));
  EXPECT_THAT(r.out, HasSubstr("CONNECTED SINCE       20"));
  EXPECT_THAT(r.out, HasSubstr(" UTC ("));
  r = Ctl({"clients", "get", "beta", "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("\"protocol\": \"3.1.1\""));
  auto beta_info = ParseJson<admin::v1::Client>(r.out);
  EXPECT_EQ(beta_info.peer_address().rfind("127.0.0.1:", 0), 0u) << beta_info.peer_address();
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(beta_info.connected_since_unix_s(), now_s);
  EXPECT_GT(beta_info.connected_since_unix_s(), now_s - 120);
  // Offline: no address, no connect time.
  auto gone_info = ParseJson<admin::v1::Client>(Ctl({"clients", "get", "gone", "-o", "json"}).out);
  EXPECT_EQ(gone_info.peer_address(), "");
  EXPECT_EQ(gone_info.connected_since_unix_s(), 0);
  r = Ctl({"clients", "list", "--state=connected"});
  EXPECT_THAT(r.out, HasSubstr("PEER"));
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1:"));
  r = Ctl({"clients", "get", "nobody"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("no session for client id 'nobody' (NOT_FOUND)"));
}

// Issue 13: a session's lag in the log (records behind it) is visible in sessions list,
// clients show (per partition) and /metrics, and goes back to 0 once it has read its backlog.
TEST_F(SluicectlTest, SessionLagIsVisibleAndClears) {
  {
    auto lagger = Client5("lagger", Properties().Add(kSessionExpiry, 300));
    SubscribeOk(*lagger, "lag/#", 1);
    lagger->Send(Disconnect(kV5));
    EXPECT_TRUE(lagger->ExpectClosed());
  }
  auto pub = Client5("lag-pub");
  for (int i = 0; i < 25; ++i) PublishOk(*pub, {.topic = "lag/" + std::to_string(i % 3), .payload = "x", .qos = 1});
  ToolResult r = Ctl({"sessions", "list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("LAG"));
  auto info = ParseJson<admin::v1::Client>(Ctl({"clients", "show", "lagger", "-o", "json"}).out);
  EXPECT_EQ(info.lag_records(), 25u) << "every record published while it was away";
  uint64_t per_partition = 0;
  for (const auto& l : info.lag()) per_partition += l.records();
  EXPECT_EQ(per_partition, 25u);
  r = Ctl({"clients", "show", "lagger"});
  EXPECT_THAT(r.out, HasSubstr("LAG (RECORDS)"));
  EXPECT_THAT(r.out, HasSubstr("LAG, PARTITION "));
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_session_lag_records{le=\"10\"}"), 1.0)
      << "lag-pub (clean, live) is within 10; lagger is not";
  EXPECT_EQ(ScrapeMetric(broker_->metrics_port(), "sluice_session_lag_records{le=\"100\"}"), 2.0);
  // Back: it reads the 25 from the log, acks them, and its lag is gone.
  auto lagger = Client5("lagger", Properties().Add(kSessionExpiry, 300), false);
  EXPECT_EQ(ReceivePayloads(*lagger, 25).size(), 25u);
  info = ParseJson<admin::v1::Client>(Ctl({"clients", "show", "lagger", "-o", "json"}).out);
  EXPECT_EQ(info.read_from_log(), 25u);
  EXPECT_EQ(info.lag_records(), 0u);
}

TEST_F(SluicectlTest, KickReallyDisconnects) {
  auto alpha = Client5("alpha");
  auto beta = Client311("beta");
  ToolResult r = Ctl({"clients", "kick", "alpha"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("client 'alpha' disconnected"));
  ExpectDisconnect(*alpha, 0x98);  // administrative action, then the close
  r = Ctl({"clients", "kick", "beta"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_TRUE(beta->ExpectClosed());
  // Sessions without expiry ended with their connections.
  EXPECT_EXIT_CODE(Ctl({"clients", "get", "alpha"}), 1);

  // A persistent session stays after a kick; kicking it again (offline) needs
  // --discard-session, which ends it.
  auto keep = Client5("keep", Properties().Add(kSessionExpiry, 300));
  EXPECT_EXIT_CODE(Ctl({"clients", "kick", "keep"}), 0);
  ExpectDisconnect(*keep, 0x98);
  r = Ctl({"clients", "get", "keep"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("offline"));
  r = Ctl({"clients", "kick", "keep"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  r = Ctl({"clients", "kick", "keep", "--discard-session", "-o", "json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("\"session_discarded\": true"));
  EXPECT_EXIT_CODE(Ctl({"clients", "get", "keep"}), 1);
  r = Ctl({"clients", "kick", "nobody"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

TEST_F(SluicectlTest, SubscriptionsByClientAndByFilter) {
  auto a = Client5("a");
  SubscribeOk(*a, "s/+", 1);
  SubscribeOk(*a, "t/#", 0);
  auto b = Client5("b");
  SubscribeOk(*b, "s/+", 2);
  ToolResult r = Ctl({"subscriptions", "list", "--client", "a"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("s/+"));
  EXPECT_THAT(r.out, HasSubstr("t/#"));
  EXPECT_THAT(r.out, Not(HasSubstr("b  ")));
  r = Ctl({"subscriptions", "list", "--filter", "s/+", "-o", "json"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("\"client_id\": \"a\""));
  EXPECT_THAT(r.out, HasSubstr("\"client_id\": \"b\""));
  EXPECT_THAT(r.out, HasSubstr("\"qos\": 2"));
  EXPECT_THAT(r.out, Not(HasSubstr("t/#")));
  r = Ctl({"subscriptions", "list", "--limit=2"});
  EXPECT_THAT(r.out, HasSubstr("--page-token=2"));
  r = Ctl({"subscriptions", "list", "--filter", "s/#/x"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
  r = Ctl({"subscriptions", "list", "--client", "nobody"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("No subscriptions."));
}

TEST_F(SluicectlTest, RetainedListGetDeleteReallyGone) {
  auto pub = Client5("pub");
  PublishOk(*pub, {.topic = "r/1", .payload = "hello", .qos = 1, .retain = true});
  PublishOk(*pub, {.topic = "r/2", .payload = "world", .qos = 0, .retain = true});
  ToolResult r = Ctl({"retained", "list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("r/1"));
  EXPECT_THAT(r.out, HasSubstr("\"hello\""));
  r = Ctl({"retained", "list", "--filter", "r/2", "-o", "json", "--payload"});
  EXPECT_THAT(r.out, HasSubstr("\"topic\": \"r/2\""));
  EXPECT_THAT(r.out, Not(HasSubstr("r/1")));
  r = Ctl({"retained", "get", "r/1"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("PUBLISHER   pub"));
  r = Ctl({"retained", "get", "r/1", "--raw"});
  EXPECT_EQ(r.out, "hello");

  r = Ctl({"retained", "delete", "r/1"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("deleted"));
  // A new subscriber gets r/2 only.
  auto sub = Client5("sub");
  SubscribeOk(*sub, "r/#", 1);
  Packet p = Receive(*sub);
  EXPECT_EQ(p.topic, "r/2");
  EXPECT_TRUE(sub->ExpectSilent());
  r = Ctl({"retained", "get", "r/1"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("no retained message on topic 'r/1' (NOT_FOUND)"));
  EXPECT_EXIT_CODE(Ctl({"retained", "delete", "r/1"}), 1);
  r = Ctl({"retained", "delete", "r/+"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
}

// QoS 1 messages go to the commit log: `partitions list|get` show each partition's offsets,
// exact size (the encoded records), retention settings, cursors and Raft state; QoS 0 is not
// stored. An offline persistent session has a cursor in every partition, lagging by what was
// published since it left.
TEST_F(SluicectlTest, PartitionsListAndGetAfterQos1Publishes) {
  constexpr uint32_t kPartitions = 4;
  START_BROKER({"--log-partitions=4", "--log-retention-ms=3600000",
                "--log-hard-retention-bytes=1073741824", "--sys-interval-s=0"});
  auto keeper = Client5("keeper", Properties().Add(kSessionExpiry, 300));
  SubscribeOk(*keeper, "p/#", 1);
  keeper->Send(Disconnect(kV5));
  ASSERT_TRUE(keeper->ExpectClosed());

  // 40 QoS 1 messages on 8 topics; the expected high watermark and size of each partition
  // from the log's own partitioner and record encoding.
  storage::Partitioner partitioner(kPartitions, 0);
  std::vector<uint64_t> count(kPartitions, 0), bytes(kPartitions, 0);
  auto pub = Client5("pub");
  for (int i = 0; i < 40; ++i) {
    std::string topic = "p/t" + std::to_string(i % 8);
    std::string payload = "message-" + std::to_string(i);
    PublishOk(*pub, {.topic = topic, .payload = payload, .qos = 1});
    storage::Record record;
    record.topic = topic;
    record.qos = 1;
    record.payload = payload;
    record.publisher = "pub";
    uint32_t p = partitioner.For(topic).value();
    ++count[p];
    bytes[p] += storage::EncodeRecord(record).size();
  }
  PublishOk(*pub, {.topic = "p/t0", .payload = "qos0 is not stored", .qos = 0});

  // The session cursors are committed asynchronously when the session goes offline: re-read
  // (bounded) until every partition has one.
  admin::v1::ListPartitionsResponse list;
  for (int i = 0; i < 100; ++i) {
    ToolResult r = Ctl({"partitions", "list", "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    list = ParseJson<admin::v1::ListPartitionsResponse>(r.out);
    bool all = list.partitions_size() == int(kPartitions);
    for (const auto& p : list.partitions()) all &= p.cursor_count() == 1;
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(list.partitions_size(), int(kPartitions));
  uint64_t total = 0;
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const auto& part = list.partitions(p);
    SCOPED_TRACE("partition " + std::to_string(p));
    EXPECT_EQ(part.id(), p);
    EXPECT_EQ(part.start_offset(), 0u);
    EXPECT_EQ(part.end_offset(), count[p]);
    EXPECT_EQ(part.records(), count[p]);
    EXPECT_EQ(part.size_bytes(), bytes[p]);
    EXPECT_EQ(part.cursor_count(), 1u);
    EXPECT_EQ(part.retention_s(), 3600);
    EXPECT_EQ(part.retention().retention_ms(), 3600000);
    EXPECT_EQ(part.retention().retention_bytes(), 0u);
    EXPECT_EQ(part.retention().hard_retention_bytes(), 1073741824u);
    EXPECT_EQ(part.records_deleted(), 0u);
    EXPECT_EQ(part.records_deleted_past_cursor(), 0u);
    EXPECT_EQ(part.leader(), "node 1 (this node)");
    EXPECT_TRUE(part.is_leader());
    EXPECT_GE(part.raft_term(), 1u);
    EXPECT_GE(part.raft_commit_index(), part.end_offset());  // Raft entries >= records
    EXPECT_EQ(part.cursors_size(), 0);                       // only `get` lists them
    total += part.end_offset();
  }
  EXPECT_EQ(total, 40u);

  ToolResult r = Ctl({"partitions", "list"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("PARTITION  START  END"));
  EXPECT_THAT(r.out, HasSubstr("node 1 (this node)"));
  EXPECT_THAT(r.out, HasSubstr("4 partitions, 40 records"));
  EXPECT_THAT(r.out, HasSubstr("Retention: time 1h0m0s, size none per partition; hard limits"));
  EXPECT_THAT(r.out, HasSubstr("size 1.0 GiB"));

  // The busiest partition, with the offline session's cursor.
  uint32_t busiest = 0;
  for (uint32_t p = 1; p < kPartitions; ++p)
    if (count[p] > count[busiest]) busiest = p;
  r = Ctl({"partitions", "get", std::to_string(busiest), "-o", "json"});
  EXPECT_EXIT_CODE(r, 0);
  auto part = ParseJson<admin::v1::Partition>(r.out);
  EXPECT_EQ(part.end_offset(), count[busiest]);
  EXPECT_EQ(part.size_bytes(), bytes[busiest]);
  EXPECT_GT(part.max_log_time_unix_ms(), 1'700'000'000'000);
  EXPECT_EQ(part.raft_leader_changes(), 1u);
  EXPECT_GE(part.raft_applied_index(), part.end_offset());
  ASSERT_EQ(part.cursors_size(), 1);
  EXPECT_EQ(part.cursors(0).name(), "session:keeper");
  EXPECT_EQ(part.cursors(0).offset(), 0u);  // it left before the first message
  EXPECT_EQ(part.cursors(0).lag(), count[busiest]);
  EXPECT_TRUE(part.cursors(0).live());
  r = Ctl({"partitions", "get", std::to_string(busiest)});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("HIGH WATERMARK       " + std::to_string(count[busiest]) + "\n"));
  EXPECT_THAT(r.out, HasSubstr("SIZE                 " + std::to_string(bytes[busiest]) + " bytes"));
  EXPECT_THAT(r.out, HasSubstr("HARD RETENTION       time none, size 1.0 GiB"));
  EXPECT_THAT(r.out, HasSubstr("CURSOR          OFFSET  LAG"));
  EXPECT_THAT(r.out, HasSubstr("session:keeper  0       " + std::to_string(count[busiest])));

  // Bad input: an unknown partition is the server's NOT_FOUND (exit 1); a malformed one, or
  // none, a usage error (exit 2).
  r = Ctl({"partitions", "get", "4"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("no partition 4: the log has 4 partitions (0..3) (NOT_FOUND)"));
  r = Ctl({"partitions", "get", "first"});
  EXPECT_EXIT_CODE(r, 2);
  EXPECT_THAT(r.err, HasSubstr("PARTITION must be a partition number (0, 1, ...), got 'first'"));
  r = Ctl({"partitions", "get", "-1"});
  EXPECT_EXIT_CODE(r, 2);
  EXPECT_EXIT_CODE(Ctl({"partitions", "get"}), 2);
  EXPECT_EXIT_CODE(Ctl({"partitions", "list", "0"}), 2);
  r = Ctl({"partitions", "list", "--partition=1"});
  EXPECT_EXIT_CODE(r, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag '--partition=1' for 'partitions list'"));
}

TEST_F(SluicectlTest, BridgeSaysItIsAbsent) {
  ToolResult r = Ctl({"bridge", "status"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("unavailable"));
  for (const char* action : {"pause", "resume"}) {
    r = Ctl({"bridge", action});
    EXPECT_EXIT_CODE(r, 1);
    EXPECT_THAT(r.err, HasSubstr("no Kafka bridge is configured in this broker"));
    EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
    r = Ctl({"bridge", action, "--rule", "telemetry"});
    EXPECT_EXIT_CODE(r, 1);
    EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
    r = Ctl({"bridge", action, "--rule"});
    EXPECT_EXIT_CODE(r, 2);
    EXPECT_THAT(r.err, HasSubstr("flag --rule needs a value"));
  }
}

TEST_F(SluicectlTest, ConfigGetAndRuntimeReload) {
  ToolResult r = Ctl({"config", "get"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("deny_publish"));
  EXPECT_THAT(r.out, HasSubstr("no (restart)"));
  EXPECT_EQ(Ctl({"config", "get", "max-queued-messages"}).out, "0\n");

  // Bad values: exit 1, a message naming the problem, nothing changed.
  r = Ctl({"config", "reload", "--set", "max_queued_messages=lots"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid value 'lots' for max_queued_messages"));
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
  r = Ctl({"config", "reload", "--set", "deny_publish=ok/#", "--set", "listen=0.0.0.0:1"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("setting 'listen' cannot change while the broker runs"));
  r = Ctl({"config", "reload", "--set", "deny_publish=bad/#/x"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("invalid topic filter 'bad/#/x'"));
  r = Ctl({"config", "reload", "--set", "no_such_key=1"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown setting 'no_such_key'"));
  EXPECT_EQ(Ctl({"config", "get", "max_queued_messages"}).out, "0\n");
  EXPECT_EQ(Ctl({"config", "get", "deny_publish"}).out, "\n");
  EXPECT_EXIT_CODE(Ctl({"config", "reload", "--set", "novalue"}), 2);

  // A good one takes effect at once.
  auto pub = Client5("pub");
  pub->Send(Publish(kV5, {.topic = "secret/x", .payload = "1", .qos = 1, .id = 1}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPuback, 1, 0x10));  // no subscribers, but allowed
  r = Ctl({"config", "reload", "--set", "deny_publish=secret/#"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("changed: deny_publish"));
  pub->Send(Publish(kV5, {.topic = "secret/x", .payload = "2", .qos = 1, .id = 2}));
  EXPECT_TRUE(IsAck(kV5, pub->Read(), kPuback, 2, 0x87));  // not authorized
  r = Ctl({"config", "reload", "--set", "deny_subscribe=private/#", "-o", "json"});
  EXPECT_THAT(r.out, HasSubstr("\"deny_subscribe\""));
  EXPECT_EQ(SubscribeReasons(*pub, {{.filter = "private/a", .qos = 1}}),
            (std::vector<uint8_t>{0x87}));
  EXPECT_EQ(Ctl({"config", "get", "deny_publish"}).out, "secret/#\n");
}

TEST_F(SluicectlTest, ConfigReloadFromFile) {
  std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string file = dir + "/reload.yaml";
  std::ofstream(file) << "max_queued_messages: 5\nconnect_timeout_s: 10\n";
  START_BROKER({"--config=" + file});
  EXPECT_EQ(Ctl({"config", "get", "max_queued_messages"}).out, "5\n");
  std::ofstream(file) << "max_queued_messages: 7\nconnect_timeout_s: 20\ndeny_publish: [a/#]\n";
  ToolResult r = Ctl({"config", "reload"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("changed: deny_publish max_queued_messages"));
  EXPECT_THAT(r.out, HasSubstr("not applied (restart sluiced to change): connect_timeout_s"));
  EXPECT_EQ(Ctl({"config", "get", "max_queued_messages"}).out, "7\n");
  EXPECT_EQ(Ctl({"config", "get", "connect_timeout_s"}).out, "10\n");
  // A broken file changes nothing.
  std::ofstream(file) << "max_queued_messages: -3\n";
  r = Ctl({"config", "reload"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("max_queued_messages"));
  EXPECT_EQ(Ctl({"config", "get", "max_queued_messages"}).out, "7\n");
}

TEST_F(SluicectlTest, LogLevelGetSet) {
  ToolResult r = Ctl({"log-level", "get"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "info\n");
  r = Ctl({"log-level", "set", "loud"});
  EXPECT_EXIT_CODE(r, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown log level 'loud'"));
  EXPECT_EQ(Ctl({"log-level", "get"}).out, "info\n");
  r = Ctl({"log-level", "set", "debug"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "log level set to debug\n");
  EXPECT_EQ(Ctl({"log-level", "get", "-o", "json"}).out, "{\n \"level\": \"debug\"\n}\n");
  EXPECT_EQ(Ctl({"config", "get", "log_level"}).out, "debug\n");
  EXPECT_EXIT_CODE(Ctl({"log-level", "set", "warn"}), 0);
}

TEST_F(SluicectlTest, UsageErrorsExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "a command is required"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"clients"}, "'clients' needs a subcommand"},
      {{"clients", "dance"}, "unknown subcommand 'dance' for 'clients'"},
      {{"clients", "list", "--bogus"}, "unknown flag '--bogus' for 'clients list'"},
      {{"clients", "get"}, "'clients get' takes CLIENT_ID, got 0 argument(s)"},
      {{"clients", "get", "a", "b"}, "takes CLIENT_ID, got 2"},
      {{"clients", "list", "--limit", "0"}, "--limit must be an integer from 1 to 10000"},
      {{"clients", "list", "--state", "sleepy"}, "--state must be all, connected or disconnected"},
      {{"clients", "list", "--prefix"}, "flag --prefix needs a value"},
      {{"status", "-o", "yaml"}, "--output must be table or json"},
      {{"status", "--timeout", "soon"}, "--timeout must be whole seconds"},
      {{"status", "--server", "nohostport"}, "--server must be HOST:PORT"},
      {{"log-level", "set"}, "takes LEVEL"},
      {{"status", "extra"}, "'status' takes no arguments"},
  };
  for (const auto& c : cases) {
    ToolResult r = Bare(c.args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args) << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << ::testing::PrintToString(c.args);
  }
}

TEST_F(SluicectlTest, HelpAtEveryLevel) {
  ToolResult r = Bare({"--help"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("Commands:"));
  EXPECT_THAT(r.out, HasSubstr("Exit codes: 0 ok, 1"));
  for (const char* group : {"clients", "subscriptions", "retained", "partitions", "bridge",
                            "config", "log-level"}) {
    r = Bare({group, "--help"});
    EXPECT_EXIT_CODE(r, 0);
    EXPECT_THAT(r.out, HasSubstr("Subcommands:")) << group;
  }
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"status"}, {"clients", "list"}, {"clients", "get"},
        {"clients", "kick"}, {"subscriptions", "list"}, {"retained", "list"},
        {"retained", "get"}, {"retained", "delete"}, {"partitions", "list"}, {"partitions", "get"},
        {"bridge", "status"}, {"bridge", "pause"}, {"bridge", "resume"}, {"config", "get"},
        {"config", "reload"}, {"log-level", "get"}, {"log-level", "set"}}) {
    cmd.push_back("--help");
    r = Bare(cmd);
    EXPECT_EXIT_CODE(r, 0);
    EXPECT_THAT(r.out, HasSubstr("Usage:\n  sluicectl " + cmd[0])) << cmd[0];
  }
  r = Bare({"help", "clients", "kick"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_THAT(r.out, HasSubstr("--discard-session"));
}

TEST_F(SluicectlTest, UnreachableServerExitsThree) {
  // A port that was free a moment ago: nothing listens there.
  ToolResult r = RunTool({Sluicectl(), "--server=127.0.0.1:1", "--timeout=3", "status"});
  EXPECT_EXIT_CODE(r, 3);
  EXPECT_THAT(r.err, HasSubstr("cannot reach the Sluice admin API at 127.0.0.1:1"));
  r = RunTool({Sluicectl(), "clients", "list"}, {"SLUICE_ADMIN=127.0.0.1:1"});
  EXPECT_EXIT_CODE(r, 3);
}

}  // namespace
}  // namespace sluice::conformance
