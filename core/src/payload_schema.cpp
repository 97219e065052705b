#include "payload_schema.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>

#include "fila/core/errors.h"
#include "fila/v1/payloads.pb.h"

namespace fila {

namespace pb = google::protobuf;

std::shared_ptr<const PayloadSchema> PayloadSchema::Compiled(const std::string& message) {
  // Linking the generated files registers their descriptors; touching one
  // type keeps the linker from dropping core's. Extensions name their
  // messages through their descriptors (extension.h), which links theirs.
  static const bool kLinked = v1::NoopPayload::descriptor() != nullptr;
  (void)kLinked;
  auto schema = std::make_shared<PayloadSchema>();
  schema->kind_ = Kind::kCompiled;
  schema->descriptor_ = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(message);
  if (schema->descriptor_ == nullptr) {
    throw PermanentError("payload message " + message + " is not compiled in", "type");
  }
  return schema;
}

namespace {

// Collects build errors of a descriptor set: the first names the problem.
class Errors final : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element, const pb::Message*,
                ErrorLocation, const std::string& message) override {
    if (first.empty()) first = filename + ": " + element + ": " + message;
  }
  std::string first;
};

}  // namespace

std::shared_ptr<const PayloadSchema> PayloadSchema::FromDescriptorSet(const std::string& descriptor_set,
                                                                      const std::string& message,
                                                                      const std::string& field) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromString(descriptor_set)) {
    throw PermanentError("the schema is not a serialized google.protobuf.FileDescriptorSet", field);
  }
  if (set.file_size() == 0) throw PermanentError("the schema's descriptor set holds no file", field);
  auto schema = std::make_shared<PayloadSchema>();
  schema->kind_ = Kind::kProto;
  // Well-known types (timestamp, struct, ...) come from the compiled-in pool.
  schema->pool_ = std::make_unique<pb::DescriptorPool>(pb::DescriptorPool::generated_pool());
  Errors errors;
  // Files in any order: each is built once its dependencies are.
  std::vector<const pb::FileDescriptorProto*> left;
  for (const auto& f : set.file()) {
    if (pb::DescriptorPool::generated_pool()->FindFileByName(f.name()) == nullptr) left.push_back(&f);
  }
  while (!left.empty()) {
    const size_t before = left.size();
    std::erase_if(left, [&](const pb::FileDescriptorProto* f) {
      for (const auto& dependency : f->dependency()) {
        if (schema->pool_->FindFileByName(dependency) == nullptr) return false;
      }
      if (schema->pool_->BuildFileCollectingErrors(*f, &errors) == nullptr) {
        throw PermanentError("the schema does not build: " + errors.first, field);
      }
      return true;
    });
    if (left.size() == before) {
      throw PermanentError("the schema's file " + left.front()->name() + " imports a file the set lacks", field);
    }
  }
  schema->descriptor_ = schema->pool_->FindMessageTypeByName(message);
  if (schema->descriptor_ == nullptr) {
    throw PermanentError("the schema has no message '" + message + "'", field);
  }
  schema->factory_ = std::make_unique<pb::DynamicMessageFactory>(schema->pool_.get());
  return schema;
}

std::shared_ptr<const PayloadSchema> PayloadSchema::AnyJson() {
  static const auto kAny = std::make_shared<const PayloadSchema>();
  return kAny;
}

std::string PayloadSchema::Name() const {
  return descriptor_ != nullptr ? descriptor_->full_name() : "JSON object";
}

std::unique_ptr<pb::Message> PayloadSchema::New() const {
  if (descriptor_ == nullptr) return std::make_unique<pb::Struct>();
  const pb::Message* prototype = factory_ ? factory_->GetPrototype(descriptor_)
                                          : pb::MessageFactory::generated_factory()->GetPrototype(descriptor_);
  return std::unique_ptr<pb::Message>(prototype->New());
}

}  // namespace fila
