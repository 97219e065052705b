#include "fila/test_support/fake_embeddings.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace fila::test {

FakeEmbeddingsServer::FakeEmbeddingsServer() {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl("/usr/bin/python3", "python3", FILA_FAKE_EMBEDDINGS_SCRIPT, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[32] = {0};
  const bool ok = fgets(line, sizeof line, f) != nullptr;
  fclose(f);
  if (!ok) throw std::runtime_error("fake embeddings server did not start");
  base_ = "http://127.0.0.1:" + std::to_string(std::atoi(line));
}

FakeEmbeddingsServer::~FakeEmbeddingsServer() {
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

}  // namespace fila::test
