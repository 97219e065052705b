#pragma once

// Starts support/fake_embeddings_server.py (python3, standard library) on a
// port of its choosing; kills it when destroyed.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace fila::test {

class FakeEmbeddingsServer final {
 public:
  FakeEmbeddingsServer() {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      const std::string script = std::string(FILA_SOURCE_DIR) + "/tests/unit/support/fake_embeddings_server.py";
      execl("/usr/bin/python3", "python3", script.c_str(), static_cast<char*>(nullptr));
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
  ~FakeEmbeddingsServer() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  FakeEmbeddingsServer(const FakeEmbeddingsServer&) = delete;
  FakeEmbeddingsServer& operator=(const FakeEmbeddingsServer&) = delete;

  const std::string& base() const { return base_; }  // http://127.0.0.1:PORT

 private:
  pid_t pid_ = -1;
  std::string base_;
};

}  // namespace fila::test
