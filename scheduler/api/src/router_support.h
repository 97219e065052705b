#pragma once

// What the routes of the API share: errors with their HTTP status, and
// replies in the format the caller asked for.

#include <google/protobuf/message.h>

#include <chrono>
#include <string>

#include "fila/api_codec.h"
#include "router.h"

namespace fila::api {

// How long a request waits for a database connection of the pool.
inline constexpr auto kPoolWait = std::chrono::seconds(2);

// An error with its HTTP status; rendered as an ErrorResponse.
struct ApiError {
  int status;
  std::string code;
  std::string message;
  std::string field;
};

Format ResponseFormat(const Request& r);
Response Reply(const Request& r, int status, const google::protobuf::Message& message);
Response ErrorReply(const Request& r, const ApiError& e);
// The body's format; ApiError 415 when unsupported.
Format RequestFormat(const Request& r);

// Producers may use only their types' default queues and their bound ones.
inline QueueRule RuleFor(const Caller& caller) {
  return caller.operator_role ? QueueRule::kAnyQueue : QueueRule::kProducer;
}

// ApiError 403 unless the caller is an operator.
void RequireOperator(const Caller& caller);

}  // namespace fila::api
