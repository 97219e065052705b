#pragma once

// The wire forms of the API's messages (proto/fila/v1): serialized
// protobuf, or protobuf's JSON mapping (field names as in the .proto),
// chosen by content type. Used by every front end (HTTP API, AMQP ingest,
// the worker's callbacks) and by the CLI reading the API's answers.
// Stateless functions: safe from any thread.

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <string_view>

namespace fila::codec {

enum class Format { kJson, kProtobuf };

inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kProtobufType = "application/x-protobuf";

// The format of a Content-Type or Accept value (`when_empty` if there is
// none); nullopt when unsupported.
std::optional<Format> FormatOf(std::string_view content_type, Format when_empty = Format::kJson);
std::string_view ContentType(Format format);

// What Decode does with JSON fields (and enum names) the message lacks.
enum class Unknown {
  kReject,  // requests: a typo must not pass silently
  kIgnore,  // answers read by a client: a newer server may add fields
};

// Parses `body` into `message`. Throws PermanentError when it is not a
// valid `message` in `format` ("invalid JSON for fila.v1.X: ...", naming the
// field where protobuf says which; "body is not a valid fila.v1.X protobuf
// message"), or JSON nested deeper than kMaxBodyDepth. Runs in time linear
// in the body.
void Decode(Format format, std::string_view body, google::protobuf::Message& message,
            Unknown unknown = Unknown::kReject);
// `all_fields`: print empty fields too, for responses with a fixed shape.
std::string Encode(Format format, const google::protobuf::Message& message, bool all_fields = false);

}  // namespace fila::codec
