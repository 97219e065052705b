#include "fila/codec/wire.h"

#include <google/protobuf/util/json_util.h>

#include "fila/core/errors.h"
#include "fila/core/json_depth.h"

namespace fila::codec {
namespace {

namespace pb = google::protobuf;

// protobuf 3.21 words JSON errors as "(field): message" or
// "field: Cannot find field."; the field is reported separately.
std::string FieldOf(const std::string& message) {
  if (!message.empty() && message.front() == '(') {
    auto close = message.find(')');
    if (close != std::string::npos && close > 1) return message.substr(1, close - 1);
  }
  if (auto pos = message.find(": Cannot find field"); pos != std::string::npos && pos > 0) {
    return message.substr(0, pos);
  }
  return {};
}

}  // namespace

std::optional<Format> FormatOf(std::string_view content_type, Format when_empty) {
  auto semicolon = content_type.find(';');
  std::string_view base = content_type.substr(0, semicolon);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  if (base.empty()) return when_empty;
  if (base == kJsonType || base == "*/*") return Format::kJson;
  if (base == kProtobufType || base == "application/protobuf") return Format::kProtobuf;
  return std::nullopt;
}

std::string_view ContentType(Format format) { return format == Format::kJson ? kJsonType : kProtobufType; }

void Decode(Format format, std::string_view body, pb::Message& message, Unknown unknown) {
  if (format == Format::kProtobuf) {
    if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      throw PermanentError("body is not a valid " + message.GetDescriptor()->full_name() + " protobuf message");
    }
    return;
  }
  CheckJsonDepth(body, kMaxBodyDepth, "invalid JSON for " + message.GetDescriptor()->full_name(), "");
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = unknown == Unknown::kIgnore;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(body.data(), body.size()), &message, options);
  if (!status.ok()) {
    std::string text(status.message());
    throw PermanentError("invalid JSON for " + message.GetDescriptor()->full_name() + ": " + text, FieldOf(text));
  }
}

std::string Encode(Format format, const pb::Message& message, bool all_fields) {
  if (format == Format::kProtobuf) return message.SerializeAsString();
  std::string json;
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = all_fields;
  (void)pb::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace fila::codec
