// .proto files to descriptor sets: the only translation unit with libprotoc.
#include "proto_schema.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>

#include <set>

#include "fila/core/errors.h"

namespace fila::cli {
namespace {

namespace pb = google::protobuf;

class Errors final : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column, const std::string& message) override {
    if (first.empty()) {
      first = filename + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  std::string first;
};

// `file` after every file it imports, each once.
void Collect(const pb::FileDescriptor* file, std::set<std::string>& seen, pb::FileDescriptorSet& set) {
  if (!seen.insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) Collect(file->dependency(i), seen, set);
  file->CopyTo(set.add_file());
}

}  // namespace

std::string CompileProtoSchema(const std::string& base_dir, const std::string& proto_file) {
  pb::compiler::DiskSourceTree tree;
  tree.MapPath("", base_dir.empty() ? "." : base_dir);
  Errors errors;
  pb::compiler::SourceTreeDescriptorDatabase sources(&tree);
  sources.RecordErrorsTo(&errors);
  // Well-known types (google/protobuf/*.proto) resolve from the ones
  // compiled into libprotobuf: no include folder of this machine needed.
  pb::DescriptorPoolDatabase known(*pb::DescriptorPool::generated_pool());
  pb::MergedDescriptorDatabase merged(&known, &sources);
  pb::DescriptorPool pool(&merged, sources.GetValidationErrorCollector());
  const pb::FileDescriptor* file = pool.FindFileByName(proto_file);
  if (file == nullptr) {
    throw PermanentError("the schema does not compile: " +
                             (errors.first.empty() ? "cannot read " + proto_file : errors.first),
                         "schema.proto");
  }
  pb::FileDescriptorSet set;
  std::set<std::string> seen;
  Collect(file, seen, set);
  return set.SerializeAsString();
}

}  // namespace fila::cli
