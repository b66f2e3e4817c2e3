#include "broker/net/listener.h"

#include <cstdlib>

#include <optional>

#include <utility>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "base/log.h"

namespace sluice::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;

namespace {

using TlsSocket = ssl::stream<tcp::socket>;
using WsSocket = websocket::stream<tcp::socket>;
using WssSocket = websocket::stream<TlsSocket>;

template <typename S>
constexpr bool kIsWebSocket = !std::is_same_v<S, TlsSocket>;

// One Stream implementation for the three stacks. The TLS context is held for the stream's
// lifetime (declared first: destroyed last).
template <typename S>
class AsioStream final : public Stream {
 public:
  template <typename... Args>
  AsioStream(std::shared_ptr<ssl::context> ctx, const char* kind, Executor executor,
             std::string peer, Args&&... args)
      : ctx_(std::move(ctx)), stream_(std::forward<Args>(args)...), kind_(kind),
        executor_(executor) {
    peer_ = std::move(peer);
  }

  S& stream() { return stream_; }
  void set_identity(std::string identity) { identity_ = std::move(identity); }

  void Rebind(Executor executor) override { executor_ = executor; }

  void AsyncReadSome(asio::mutable_buffer buffer, IoHandler handler) override {
    if constexpr (kIsWebSocket<S>) {
      stream_.async_read_some(
          buffer, asio::bind_executor(executor_, [this, handler = std::move(handler)](
                                                     const boost::system::error_code& ec,
                                                     size_t n) {
            // MQTT 6.0: data in a text frame is a protocol violation; close.
            if (!ec && stream_.got_text()) return handler(boost::system::error_code(asio::error::invalid_argument), n);
            handler(ec, n);
          }));
    } else {
      stream_.async_read_some(buffer, asio::bind_executor(executor_, std::move(handler)));
    }
  }

  void AsyncWrite(asio::const_buffer buffer, IoHandler handler) override {
    if constexpr (kIsWebSocket<S>) {
      stream_.async_write(buffer, asio::bind_executor(executor_, std::move(handler)));
    } else {
      asio::async_write(stream_, buffer, asio::bind_executor(executor_, std::move(handler)));
    }
  }

  void ShutdownSend(boost::system::error_code& ec) override {
    beast::get_lowest_layer(stream_).shutdown(tcp::socket::shutdown_send, ec);
  }
  void Close() override {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).close(ec);
  }
  bool IsOpen() const override {
    return const_cast<AsioStream*>(this)->LowestOpen();
  }
  const char* kind() const override { return kind_; }

 private:
  bool LowestOpen() { return beast::get_lowest_layer(stream_).is_open(); }

  std::shared_ptr<ssl::context> ctx_;
  S stream_;
  const char* kind_;
  Executor executor_;
};

// Offered subprotocols ("mqtt, mqttv3.1") → the one to select, or "" when none is MQTT.
std::string PickSubprotocol(beast::string_view offered) {
  std::string chosen;
  std::string_view rest(offered.data(), offered.size());
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == "mqtt") return "mqtt";
    if (item == "mqttv3.1" && chosen.empty()) chosen = "mqttv3.1";
  }
  return chosen;
}

// State of one handshake in progress, on the accepting shard's thread.
template <typename S>
struct Pending {
  std::unique_ptr<AsioStream<S>> stream;
  asio::steady_timer timer;
  std::shared_ptr<void> ticket;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::empty_body>> parser;
  bool done = false;
  explicit Pending(asio::io_context& io) : timer(io) {}
};

}  // namespace

Listener::Listener(ListenerOptions options, std::vector<asio::io_context*> ios,
                   Admission* admission, StreamHandler on_stream)
    : options_(std::move(options)), ios_(std::move(ios)), admission_(admission),
      on_stream_(std::move(on_stream)) {}

Listener::~Listener() = default;

absl::Status OpenAcceptor(tcp::acceptor& acceptor, const std::string& address_text,
                          const std::string& setting) {
  size_t colon = address_text.rfind(':');
  char* end = nullptr;
  long port = colon == std::string::npos ? -1 : std::strtol(address_text.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon + 1 >= address_text.size() || *end != '\0' || port < 0 ||
      port > 65535)
    return absl::InvalidArgumentError(setting + ": expected HOST:PORT, got '" + address_text + "'");
  std::string host = address_text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(setting + ": '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return absl::UnavailableError("cannot listen on " + address_text + " (" + setting +
                                  "): " + ec.message());
  }
  return absl::OkStatus();
}

std::string BoundAddressOf(const tcp::acceptor* acceptor) {
  if (!acceptor || !acceptor->is_open()) return "";
  boost::system::error_code ec;
  auto ep = acceptor->local_endpoint(ec);
  if (ec) return "";
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

absl::Status Listener::Bind() {
  acceptor_ = std::make_unique<tcp::acceptor>(*ios_[0]);
  backoff_ = std::make_unique<asio::steady_timer>(*ios_[0]);
  absl::Status st = OpenAcceptor(*acceptor_, options_.address, options_.name + "_listen");
  if (!st.ok()) acceptor_.reset();
  return st;
}

std::string Listener::BoundAddress() const { return BoundAddressOf(acceptor_.get()); }

void Listener::Start() {
  asio::post(*ios_[0], [this] { Accept(); });
}

void Listener::Stop() {
  asio::post(*ios_[0], [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (backoff_) backoff_->cancel();
  });
}

void Listener::Accept() {
  uint32_t shard = next_shard_;
  next_shard_ = (next_shard_ + 1) % ios_.size();
  acceptor_->async_accept(*ios_[shard], [this, shard](const boost::system::error_code& ec,
                                                      tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) {
      boost::system::error_code ep_ec;
      auto ep = socket.remote_endpoint(ep_ec);
      std::shared_ptr<void> ticket =
          ep_ec ? nullptr : admission_->TryAdmit(ep.address().to_string());
      if (ticket) {
        asio::post(*ios_[shard], [this, shard, s = std::move(socket),
                                  ticket = std::move(ticket)]() mutable {
          Handshake(shard, std::move(s), std::move(ticket));
        });
      }  // else: the socket closes here, before anything was allocated for it
    } else {
      // Out of descriptors and the like: retrying at once would spin (the socket stays
      // readable). Back off, and log at most once a second.
      ++accept_errors_;
      auto now = std::chrono::steady_clock::now();
      if (now - last_accept_log_ >= std::chrono::seconds(1)) {
        last_accept_log_ = now;
        SLOG(kWarn).Kv("listener", options_.name).Kv("error", ec.message())
            .Kv("errors_total", accept_errors_) << "accept failed; backing off";
      }
      backoff_->expires_after(std::chrono::milliseconds(100));
      backoff_->async_wait([this](const boost::system::error_code& e) {
        if (!e && acceptor_->is_open()) Accept();
      });
      return;
    }
    Accept();
  });
}

namespace {

template <typename S>
void FinishOk(Listener* listener, const StreamHandler& on_stream, uint32_t shard,
              const std::shared_ptr<Pending<S>>& p) {
  if (p->done) return;
  p->done = true;
  p->timer.cancel();
  on_stream(shard, std::move(p->stream), std::move(p->ticket));
}

template <typename S>
bool Failed(const std::shared_ptr<Pending<S>>& p, std::atomic<uint64_t>* failures,
            const std::string& listener, const boost::system::error_code& ec, const char* step) {
  if (!ec && !p->done) return false;
  if (!p->done) {
    p->done = true;
    p->timer.cancel();
    failures->fetch_add(1, std::memory_order_relaxed);
    SLOG(kDebug).Kv("listener", listener).Kv("peer", p->stream->peer()).Kv("error", ec.message())
        << step << " failed";
    p->stream->Close();
  }
  return true;
}

// The WebSocket upgrade: reads the HTTP request (header size bounded), checks path and
// subprotocol, and answers 101 selecting "mqtt"; anything else gets 400/404 and a close.
template <typename S>
void UpgradeWebSocket(const ListenerOptions& options, std::atomic<uint64_t>* failures,
                      const StreamHandler& on_stream, uint32_t shard,
                      std::shared_ptr<Pending<S>> p) {
  p->parser.emplace();
  p->parser->header_limit(static_cast<uint32_t>(options.max_http_request_bytes));
  p->parser->body_limit(0);
  http::async_read(
      p->stream->stream().next_layer(), p->buffer, *p->parser,
      [&options, failures, &on_stream, shard, p](const boost::system::error_code& ec, size_t) {
        if (Failed(p, failures, options.name, ec, "WebSocket HTTP request")) return;
        http::request<http::empty_body> req = p->parser->release();
        std::string protocol = PickSubprotocol(req[http::field::sec_websocket_protocol]);
        http::status refusal = http::status::ok;
        if (!websocket::is_upgrade(req)) {
          refusal = http::status::bad_request;
        } else if (std::string_view(req.target().data(), req.target().size()) != options.ws_path) {
          refusal = http::status::not_found;
        } else if (protocol.empty()) {
          refusal = http::status::bad_request;
        }
        if (refusal != http::status::ok) {
          auto res = std::make_shared<http::response<http::string_body>>(refusal, req.version());
          res->set(http::field::server, "sluice");
          res->set(http::field::connection, "close");
          res->body() = refusal == http::status::not_found
                            ? "not found\n"
                            : "expected a WebSocket upgrade with subprotocol mqtt\n";
          res->prepare_payload();
          http::async_write(p->stream->stream().next_layer(), *res,
                            [p, res, failures, &options](const boost::system::error_code&, size_t) {
                              Failed(p, failures, options.name,
                                     boost::system::error_code(asio::error::connection_refused), "WebSocket upgrade");
                            });
          return;
        }
        auto& ws = p->stream->stream();
        ws.binary(true);
        ws.auto_fragment(false);
        ws.read_message_max(options.max_ws_message_bytes);
        ws.set_option(websocket::stream_base::decorator(
            [protocol](websocket::response_type& res) {
              res.set(http::field::server, "sluice");
              res.set(http::field::sec_websocket_protocol, protocol);
            }));
        ws.async_accept(req, [&options, failures, &on_stream, shard, p](
                                 const boost::system::error_code& ec) {
          if (Failed(p, failures, options.name, ec, "WebSocket accept")) return;
          FinishOk<S>(nullptr, on_stream, shard, p);
        });
      });
}

}  // namespace

void Listener::Handshake(uint32_t shard, tcp::socket socket, std::shared_ptr<void> ticket) {
  asio::io_context& io = *ios_[shard];
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  std::string peer = ec ? "" : ep.address().to_string() + ":" + std::to_string(ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  auto ms = std::chrono::milliseconds(options_.handshake_timeout_ms);

  // Arms the handshake deadline: on expiry the socket is closed, which fails the pending step.
  // A timeout is a failed handshake too: counted and logged like one.
  auto arm = [this, ms](auto& p) {
    p->timer.expires_after(ms);
    p->timer.async_wait([this, p](const boost::system::error_code& ec) {
      if (ec || p->done) return;
      p->done = true;
      handshake_failures_.fetch_add(1, std::memory_order_relaxed);
      SLOG(kDebug).Kv("listener", options_.name).Kv("peer", p->stream->peer())
          << "handshake timed out";
      p->stream->Close();
    });
  };

  if (options_.tls && !options_.websocket) {
    auto ctx = options_.tls_contexts->Current();
    auto p = std::make_shared<Pending<TlsSocket>>(io);
    p->stream = std::make_unique<AsioStream<TlsSocket>>(ctx, "tls", io.get_executor(), peer,
                                                        std::move(socket), *ctx);
    p->ticket = std::move(ticket);
    arm(p);
    p->stream->stream().async_handshake(
        ssl::stream_base::server, [this, shard, p](const boost::system::error_code& ec) {
          if (Failed(p, &handshake_failures_, options_.name, ec, "TLS handshake")) return;
          p->stream->set_identity(CertificateIdentity(p->stream->stream().native_handle()));
          FinishOk<TlsSocket>(this, on_stream_, shard, p);
        });
    return;
  }
  if (options_.websocket && !options_.tls) {
    auto p = std::make_shared<Pending<WsSocket>>(io);
    p->stream = std::make_unique<AsioStream<WsSocket>>(nullptr, "ws", io.get_executor(), peer,
                                                       std::move(socket));
    p->ticket = std::move(ticket);
    arm(p);
    UpgradeWebSocket(options_, &handshake_failures_, on_stream_, shard, p);
    return;
  }
  auto ctx = options_.tls_contexts->Current();
  auto p = std::make_shared<Pending<WssSocket>>(io);
  p->stream = std::make_unique<AsioStream<WssSocket>>(ctx, "wss", io.get_executor(), peer,
                                                      std::move(socket), *ctx);
  p->ticket = std::move(ticket);
  arm(p);
  p->stream->stream().next_layer().async_handshake(
      ssl::stream_base::server, [this, shard, p](const boost::system::error_code& ec) {
        if (Failed(p, &handshake_failures_, options_.name, ec, "TLS handshake")) return;
        p->stream->set_identity(
            CertificateIdentity(p->stream->stream().next_layer().native_handle()));
        UpgradeWebSocket(options_, &handshake_failures_, on_stream_, shard, p);
      });
}

}  // namespace sluice::net
