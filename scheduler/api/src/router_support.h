#pragma once

// What the routes of the API share: errors with their HTTP status, and
// replies in the format the caller asked for.

#include <google/protobuf/message.h>

#include <chrono>
#include <string>

#include "fila/codec/wire.h"
#include "router.h"

namespace fila::api {

// The wire forms are the codec's (fila_codec); the routes name them unqualified.
using codec::ContentType;
using codec::Decode;
using codec::Encode;
using codec::Format;
using codec::FormatOf;

// How long a request waits for a database connection of the pool.
inline constexpr auto kPoolWait = std::chrono::seconds(2);

// An error with its HTTP status; rendered as an ErrorResponse. A
// `retry_after_s` above 0 becomes a Retry-After header (429 and 503: a
// limit or a quota the caller may retry after).
struct ApiError {
  int status;
  std::string code;
  std::string message;
  std::string field;
  int retry_after_s = 0;
};

Format ResponseFormat(const Request& r);
Response Reply(const Request& r, int status, const google::protobuf::Message& message);
Response ErrorReply(const Request& r, const ApiError& e);
// The exception being handled (call it inside a catch block) as an error
// response: ApiError as it is, PermanentError 400, TransientError 503,
// anything else 500. Never throws.
Response CurrentError(const Request& r);
// The body's format; ApiError 415 when unsupported.
Format RequestFormat(const Request& r);

// Producers may use only their types' default queues and their bound ones.
inline QueueRule RuleFor(const Caller& caller) {
  return caller.operator_role ? QueueRule::kAnyQueue : QueueRule::kProducer;
}

// ApiError 403 unless the caller is an operator.
void RequireOperator(const Caller& caller);

}  // namespace fila::api
