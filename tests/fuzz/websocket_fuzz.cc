// libFuzzer target for WebSocket framing as the broker's listener configures it (server
// side, binary, bounded message size, no compression): the input follows a valid upgrade
// request as the client's frames (first byte even) or is the whole HTTP request (first byte
// odd). Beast must report errors, never crash, and never hand out more than the limit.
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <string>

#include <utility>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "base/check.h"

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Relative corpus paths under `bazel run` (see README).
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) SLUICE_CHECK(chdir(dir) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 1 << 20) return 0;
  constexpr size_t kMaxMessage = 64 * 1024;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes;
  if ((data[0] & 1) == 0) {
    bytes =
        "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  }
  bytes += input;
  boost::asio::io_context io;
  beast::test::stream client(io), server(io);
  client.connect(server);
  client.write_size(bytes.size() + 1);
  boost::system::error_code ec;
  boost::asio::write(client, boost::asio::buffer(bytes), ec);
  client.close();  // EOF after the input

  websocket::stream<beast::test::stream&> ws(server);
  ws.read_message_max(kMaxMessage);
  ws.auto_fragment(false);
  beast::flat_buffer buffer;
  beast::http::request_parser<beast::http::empty_body> parser;
  parser.header_limit(8192);
  parser.body_limit(0);
  beast::http::read(server, buffer, parser, ec);
  if (ec) return 0;
  ws.accept(parser.release(), ec);
  if (ec) return 0;
  ws.binary(true);
  for (int i = 0; i < 1000; ++i) {
    char chunk[4096];
    size_t n = ws.read_some(boost::asio::buffer(chunk), ec);
    SLUICE_CHECK(n <= sizeof chunk);
    if (ec) break;
  }
  return 0;
}
