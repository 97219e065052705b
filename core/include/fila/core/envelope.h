#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fila {

// What travels on the broker for one task (fila.v1.TaskEnvelope).
struct Envelope {
  std::string id;
  std::string type;
  std::string queue;
  uint32_t priority = 0;
  uint32_t attempt = 0;
  uint32_t max_attempts = 0;
  uint32_t timeout_ms = 0;
  std::string tenant;
  std::string idempotency_key;
  std::string payload;
  std::string trace_id;
  int64_t enqueued_at_unix_ms = 0;
  uint32_t type_version = 0;  // 0: a compiled-in type

  bool operator==(const Envelope&) const = default;
};

std::string EncodeEnvelope(const Envelope& envelope);
// Throws PermanentError when `bytes` is not a well-formed envelope with an id
// and a type: such a message is poison and can never be processed.
Envelope DecodeEnvelope(std::string_view bytes);

}  // namespace fila
