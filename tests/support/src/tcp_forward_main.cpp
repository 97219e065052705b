// fila-tcp-forward LISTEN_HOST TARGET_HOST PORT...: the TcpForwarder of the
// fault tests as a program, for scripts/netns-lib.sh (the chaos run): every
// LISTEN_HOST:PORT is relayed to TARGET_HOST:PORT until SIGTERM or SIGINT.
// Prints "ready" once every port listens.
#include <signal.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "fila/test_support/tcp_forwarder.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s LISTEN_HOST TARGET_HOST PORT...\n", argv[0]);
    return 2;
  }
  // Blocked before any thread starts, so that only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::vector<std::unique_ptr<fila::test::TcpForwarder>> forwarders;
  try {
    for (int i = 3; i < argc; ++i) {
      const auto port = static_cast<uint16_t>(std::stoi(argv[i]));
      forwarders.push_back(std::make_unique<fila::test::TcpForwarder>(argv[1], port, argv[2], port));
      std::printf("forwarding %s:%u -> %s:%u\n", argv[1], port, argv[2], port);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fila-tcp-forward: %s\n", e.what());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  return 0;
}
