// Two NodeLinks over real gRPC servers on 127.0.0.1: a broadcast reaches the peer with every
// field of the record, in order; a peer that is down costs the sender only counted drops,
// and the link comes back by itself when the peer starts. Waits are bounded conditions.
#include "broker/cluster/node_links.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::broker {
namespace {

struct Received {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<storage::Record> records;
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, timeout, [&] { return records.size() >= n; });
  }
};

// A node: links plus a gRPC server serving them on a port of its own.
struct TestNode {
  TestNode(NodeId self, std::map<NodeId, std::string> peers, int port = 0) {
    NodeLinks::Options o;
    o.self = self;
    o.peers = std::move(peers);
    o.reconnect_backoff_max_ms = 100;
    links = std::make_unique<NodeLinks>(std::move(o), [this](NodeId from, storage::Record r) {
      EXPECT_EQ(from, NodeId(1));
      std::lock_guard<std::mutex> l(received.mu);
      received.records.push_back(std::move(r));
      received.cv.notify_all();
    });
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                       &bound_port);
    b.RegisterService(links->service());
    server = b.BuildAndStart();
  }
  ~TestNode() {
    links->Stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    server->Wait();
  }
  Received received;
  std::unique_ptr<NodeLinks> links;
  std::unique_ptr<grpc::Server> server;
  int bound_port = 0;
};

storage::Record MakeRecord(int i) {
  storage::Record r;
  r.topic = "t/" + std::to_string(i);
  r.payload = std::string(i % 7, 'x');
  r.qos = static_cast<uint8_t>(i % 3);
  r.retain = i % 2 == 1;
  r.publisher = "c" + std::to_string(i);
  r.properties = std::string(1, static_cast<char>(i));
  return r;
}

TEST(NodeLinksTest, BroadcastReachesThePeerInOrder) {
  auto receiver = std::make_unique<TestNode>(NodeId(2), std::map<NodeId, std::string>{});
  ASSERT_GT(receiver->bound_port, 0);
  TestNode sender(NodeId(1), {{NodeId(2), "127.0.0.1:" + std::to_string(receiver->bound_port)}});
  sender.links->Start();
  constexpr int kCount = 2000;
  // Before the stream is up, messages may be dropped as unreachable: send until one arrives.
  for (int attempt = 0; attempt < 200; ++attempt) {
    sender.links->Broadcast(MakeRecord(0));
    if (receiver->received.WaitFor(1, std::chrono::milliseconds(50))) break;
  }
  ASSERT_TRUE(receiver->received.WaitFor(1));
  const size_t before = receiver->received.records.size();
  for (int i = 1; i <= kCount; ++i) sender.links->Broadcast(MakeRecord(i));
  ASSERT_TRUE(receiver->received.WaitFor(before + kCount))
      << receiver->received.records.size() << " of " << before + kCount;
  std::lock_guard<std::mutex> l(receiver->received.mu);
  for (int i = 1; i <= kCount; ++i) {
    const storage::Record& got = receiver->received.records[before + i - 1];
    const storage::Record want = MakeRecord(i);
    EXPECT_EQ(got.topic, want.topic);
    EXPECT_EQ(got.payload, want.payload);
    EXPECT_EQ(got.qos, want.qos);
    EXPECT_EQ(got.retain, want.retain);
    EXPECT_EQ(got.publisher, want.publisher);
    EXPECT_EQ(got.properties, want.properties);
  }
  EXPECT_EQ(sender.links->stats().dropped_queue_full, 0u);
  EXPECT_GE(receiver->links->stats().messages_received, static_cast<uint64_t>(kCount));
}

TEST(NodeLinksTest, APeerThatIsDownCostsCountedDropsOnly) {
  // Reserve a port, then free it: nothing listens there until the peer starts.
  int port = 0;
  { TestNode probe(NodeId(2), {}); port = probe.bound_port; }
  TestNode sender(NodeId(1), {{NodeId(2), "127.0.0.1:" + std::to_string(port)}});
  sender.links->Start();
  uint64_t broadcast = 0;
  for (int i = 0; i < 100; ++i, ++broadcast) sender.links->Broadcast(MakeRecord(i));  // never blocks
  TestNode receiver(NodeId(2), {}, port);
  ASSERT_EQ(receiver.bound_port, port);
  for (int attempt = 0; attempt < 400; ++attempt) {
    sender.links->Broadcast(MakeRecord(1));
    ++broadcast;
    if (receiver.received.WaitFor(1, std::chrono::milliseconds(50))) break;
  }
  ASSERT_TRUE(receiver.received.WaitFor(1, std::chrono::milliseconds(0)));
  sender.links->Stop();  // nothing moves any more
  // Every message broadcast is accounted for: sent, dropped (and why) or still queued. (A
  // write cut by Stop counts as dropped even if it arrived: a stream confirms nothing.)
  const NodeLinkStats s = sender.links->stats();
  EXPECT_LE(receiver.links->stats().messages_received, broadcast);
  EXPECT_EQ(s.messages_sent + s.dropped_unreachable + s.dropped_queue_full + s.queued, broadcast);
}

}  // namespace
}  // namespace sluice::broker
