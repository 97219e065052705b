#include "fila/core/envelope.h"

#include "fila/core/errors.h"
#include "fila/v1/task.pb.h"

namespace fila {

std::string EncodeEnvelope(const Envelope& e) {
  v1::TaskEnvelope m;
  m.set_id(e.id);
  m.set_type(e.type);
  m.set_queue(e.queue);
  m.set_priority(e.priority);
  m.set_attempt(e.attempt);
  m.set_max_attempts(e.max_attempts);
  m.set_timeout_ms(e.timeout_ms);
  m.set_tenant(e.tenant);
  m.set_idempotency_key(e.idempotency_key);
  m.set_payload(e.payload);
  m.set_trace_id(e.trace_id);
  m.set_enqueued_at_unix_ms(e.enqueued_at_unix_ms);
  m.set_type_version(e.type_version);
  return m.SerializeAsString();
}

Envelope DecodeEnvelope(std::string_view bytes) {
  v1::TaskEnvelope m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw PermanentError("message is not a fila.v1.TaskEnvelope");
  }
  if (m.id().empty() || m.type().empty()) {
    throw PermanentError("envelope has no task id or type");
  }
  Envelope e;
  e.id = m.id();
  e.type = m.type();
  e.queue = m.queue();
  e.priority = m.priority();
  e.attempt = m.attempt();
  e.max_attempts = m.max_attempts();
  e.timeout_ms = m.timeout_ms();
  e.tenant = m.tenant();
  e.idempotency_key = m.idempotency_key();
  e.payload = m.payload();
  e.trace_id = m.trace_id();
  e.enqueued_at_unix_ms = m.enqueued_at_unix_ms();
  e.type_version = m.type_version();
  return e;
}

}  // namespace fila
