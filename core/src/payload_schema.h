#pragma once

// How a type's payloads are parsed (task_types.h declares the class):
// private to core, the only place that handles protobuf descriptors.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

namespace fila {

class PayloadSchema final {
 public:
  enum class Kind { kCompiled, kProto, kAnyJson };

  // A message compiled into fila. PermanentError (field "type") when it is
  // not linked in.
  static std::shared_ptr<const PayloadSchema> Compiled(const std::string& message);
  // `message` of a serialized google.protobuf.FileDescriptorSet (well-known
  // types resolve without being in it). PermanentError naming `field` when
  // the set does not build or holds no such message.
  static std::shared_ptr<const PayloadSchema> FromDescriptorSet(const std::string& descriptor_set,
                                                                const std::string& message,
                                                                const std::string& field);
  // Any JSON object: stored as its canonical text.
  static std::shared_ptr<const PayloadSchema> AnyJson();

  Kind kind() const { return kind_; }
  // The message's full name, or "JSON object".
  std::string Name() const;
  // An empty message of the schema (kCompiled, kProto).
  std::unique_ptr<google::protobuf::Message> New() const;

  PayloadSchema() = default;  // use the factories

 private:
  Kind kind_ = Kind::kAnyJson;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;          // kProto
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;  // kProto
  const google::protobuf::Descriptor* descriptor_ = nullptr;
};

}  // namespace fila
