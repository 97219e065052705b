// acme-worker: a worker of your own, built on fila's C++ SDK. It runs the
// handler of the type acme.word_count, registered as data (types.yaml):
//
//   name: acme.word_count
//   queue: acme
//   schema: {any_json: true}
//   handler: {builtin: acme.word_count}
//
// and is started like fila-worker: acme-worker --queues acme (--help).
#include <nlohmann/json.hpp>

#include <cctype>
#include <string>

#include "fila/worker/sdk.h"

namespace {

// Counts the words of payload.text. The payload of an any-JSON type is the
// JSON object's text. Bad input is a PermanentError (no retry); the runtime
// turns any other exception into a retry with backoff.
std::string WordCount(fila::TaskContext& ctx) {
  const auto payload = nlohmann::json::parse(ctx.Payload(), nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || !payload.contains("text") || !payload["text"].is_string()) {
    throw fila::PermanentError("payload.text must be a string", "payload.text");
  }
  const auto& text = payload["text"].get_ref<const std::string&>();
  uint64_t words = 0;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    // Long texts: stop promptly once the deadline passed or the task was
    // cancelled (the runtime abandons handlers that do not).
    if (i % 65536 == 0 && ctx.Cancelled()) throw fila::TransientError("cancelled");
    const bool space = std::isspace(static_cast<unsigned char>(text[i])) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  ctx.Progress(100, "counted");
  return nlohmann::json{{"words", words}, {"attempt", ctx.Attempt()}}.dump();
}

}  // namespace

int main(int argc, char** argv) {
  fila::WorkerSetup setup;
  setup.program = "acme-worker";
  setup.register_handlers = [](fila::HandlerRegistry& handlers, const fila::WorkerServices&) {
    handlers.Register("acme.word_count", WordCount);
  };
  return fila::RunWorker(argc, argv, setup);
}
