#include "fila/core/envelope.h"

#include <gtest/gtest.h>

#include "fila/core/errors.h"

namespace fila {
namespace {

Envelope Sample() {
  Envelope e;
  e.id = "0b7e3c1a-1111-4a2b-9c3d-123456789abc";
  e.type = "sleep";
  e.queue = "default";
  e.priority = 9;
  e.attempt = 2;
  e.max_attempts = 5;
  e.timeout_ms = 30000;
  e.tenant = "acme";
  e.idempotency_key = "order-42";
  e.payload = std::string("\x08\x05\x00\xff", 4);  // binary, with a NUL
  e.trace_id = "trace-1";
  e.enqueued_at_unix_ms = 1790000000123;
  return e;
}

TEST(Envelope, RoundTripsEveryField) {
  Envelope e = Sample();
  EXPECT_EQ(DecodeEnvelope(EncodeEnvelope(e)), e);
}

TEST(Envelope, GarbageIsPermanentError) {
  EXPECT_THROW(DecodeEnvelope("\xff\xff\xff\xff garbage"), PermanentError);
}

TEST(Envelope, MissingIdIsPermanentError) {
  Envelope e = Sample();
  e.id.clear();
  EXPECT_THROW(DecodeEnvelope(EncodeEnvelope(e)), PermanentError);
  EXPECT_THROW(DecodeEnvelope(""), PermanentError);
}

TEST(Envelope, TruncatedBytesNeverCrash) {
  std::string bytes = EncodeEnvelope(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      Envelope e = DecodeEnvelope(std::string_view(bytes).substr(0, n));
      EXPECT_FALSE(e.id.empty());  // a prefix may parse; then it has an id
    } catch (const PermanentError&) {
    }
  }
}

}  // namespace
}  // namespace fila
