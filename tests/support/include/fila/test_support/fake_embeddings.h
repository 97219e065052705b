#pragma once

// Starts tests/support/fake_embeddings_server.py (/usr/bin/python3,
// standard library) on a port of its choosing; kills it when destroyed.
// Throws std::runtime_error when it does not start. Not product code.

#include <sys/types.h>

#include <string>

namespace fila::test {

class FakeEmbeddingsServer final {
 public:
  FakeEmbeddingsServer();
  ~FakeEmbeddingsServer();
  FakeEmbeddingsServer(const FakeEmbeddingsServer&) = delete;
  FakeEmbeddingsServer& operator=(const FakeEmbeddingsServer&) = delete;

  const std::string& base() const { return base_; }  // http://127.0.0.1:PORT

 private:
  pid_t pid_ = -1;
  std::string base_;
};

}  // namespace fila::test
