// TaskTypes::PayloadField: a payload field's value, for per-key limits.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>

#include "fila/errors.h"
#include "fila/task_types.h"

namespace fila {

namespace pb = google::protobuf;

std::string TaskTypes::PayloadField(std::string_view type, std::string_view payload,
                                    const std::string& field) const {
  const pb::Descriptor* descriptor =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName(Get(type).payload_message);
  if (descriptor == nullptr) {
    throw PermanentError("payload message " + Get(type).payload_message + " is not compiled in",
                         "type");
  }
  std::unique_ptr<pb::Message> message(
      pb::MessageFactory::generated_factory()->GetPrototype(descriptor)->New());
  const pb::FieldDescriptor* fd = message->GetDescriptor()->FindFieldByName(field);
  if (fd == nullptr || fd->is_repeated() || fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    throw PermanentError("payload of '" + std::string(type) + "' has no scalar field " + field,
                         "payload." + field);
  }
  if (!message->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    throw PermanentError("payload does not parse as " + Get(type).payload_message, "payload");
  }
  const pb::Reflection* r = message->GetReflection();
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING: return r->GetString(*message, fd);
    case pb::FieldDescriptor::CPPTYPE_INT32: return std::to_string(r->GetInt32(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_INT64: return std::to_string(r->GetInt64(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_UINT32: return std::to_string(r->GetUInt32(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_UINT64: return std::to_string(r->GetUInt64(*message, fd));
    case pb::FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(*message, fd) ? "true" : "false";
    case pb::FieldDescriptor::CPPTYPE_ENUM: return r->GetEnum(*message, fd)->name();
    default: return std::to_string(r->GetDouble(*message, fd));
  }
}

}  // namespace fila
