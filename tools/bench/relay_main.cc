// relay: the bare MQTT relay, the physical floor for a load on this machine (relay.h).
//
//   relay --listen 127.0.0.1:0 --ready-fd 3
//
// Ready-fd protocol as sluiced's: once listening, writes the bound "HOST:PORT\n" to the fd
// and closes it. SIGTERM/SIGINT stop it (exit 0). Bad flags: a message and exit code 2.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "base/config.h"
#include "tools/bench/relay.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:1883";
  int64_t ready_fd = -1;
  sluice::ConfigSchema schema(
      "relay", "Bare MQTT relay (no topics, sessions, limits or storage): the floor for loadgen.");
  schema.AddString("listen", &listen, "IPv4 HOST:PORT to listen on (port 0: a free port).");
  schema.AddInt("ready_fd", &ready_fd, -1, 1 << 20,
                "Once listening, write HOST:PORT and a newline to this fd, then close it.");
  auto parsed = schema.ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "relay: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->help_requested) {
    std::fputs(schema.Usage().c_str(), stdout);
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: epoll_wait returns EINTR at once
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  sluice::bench::Relay relay;
  std::string error;
  if (!relay.Listen(listen, &error)) {
    std::fprintf(stderr, "relay: %s\n", error.c_str());
    return error.rfind("--listen", 0) == 0 ? 2 : 1;
  }
  if (ready_fd >= 0) {
    const std::string text = relay.BoundAddress() + "\n";
    ssize_t n = write(static_cast<int>(ready_fd), text.data(), text.size());
    (void)n;
    close(static_cast<int>(ready_fd));
  }
  relay.Run(&g_stop);
  return 0;
}
