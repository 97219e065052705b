// YAML task type files: the only translation unit with yaml-cpp.
#include "type_file.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fila/core/errors.h"
#include "fila/core/time_text.h"
#include "fila/v1/types.pb.h"
#include "proto_schema.h"

namespace fila::cli {
namespace {

namespace fs = std::filesystem;

// One YAML mapping, with the path of its keys for errors and a check that
// every key was used.
class Node final {
 public:
  Node(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {
    if (!node_.IsMap()) throw PermanentError(path_ + " must be a mapping", path_);
  }
  bool Has(const std::string& key) {
    used_.insert(key);
    return node_[key] && !node_[key].IsNull();
  }
  std::string Path(const std::string& key) const { return path_ + "." + key; }
  std::string Text(const std::string& key) {
    if (!Has(key)) return {};
    if (!node_[key].IsScalar()) throw PermanentError(Path(key) + " must be a text", Path(key));
    return node_[key].as<std::string>();
  }
  uint64_t Number(const std::string& key, uint64_t max) {
    const std::string text = Text(key);
    if (text.empty()) return 0;
    try {
      size_t used = 0;
      const unsigned long long n = std::stoull(text, &used);
      if (used == text.size() && n <= max) return n;
    } catch (const std::exception&) {
    }
    throw PermanentError(Path(key) + " must be a whole number from 0 to " + std::to_string(max), Path(key));
  }
  uint64_t Millis(const std::string& key) {
    const std::string text = Text(key);
    return text.empty() ? 0 : static_cast<uint64_t>(ParseDuration(text, Path(key)));
  }
  bool Flag(const std::string& key) {
    const std::string text = Text(key);
    if (text.empty() || text == "false") return false;
    if (text == "true") return true;
    throw PermanentError(Path(key) + " must be true or false", Path(key));
  }
  std::vector<std::string> List(const std::string& key) {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    const YAML::Node& list = node_[key];
    if (list.IsScalar()) return {list.as<std::string>()};
    if (!list.IsSequence()) throw PermanentError(Path(key) + " must be a list", Path(key));
    for (const auto& item : list) {
      if (!item.IsScalar()) throw PermanentError(Path(key) + " must be a list of texts", Path(key));
      out.push_back(item.as<std::string>());
    }
    return out;
  }
  Node Child(const std::string& key) {
    used_.insert(key);
    return Node(node_[key], Path(key));
  }
  // Refuses keys nobody asked for: a typo must not pass unseen.
  void Done() const {
    for (const auto& entry : node_) {
      const std::string key = entry.first.as<std::string>();
      if (!used_.count(key)) throw PermanentError(Path(key) + " is not a known key", Path(key));
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

std::string ReadBytes(const fs::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PermanentError("cannot read " + path.string(), field);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void ReadSchema(Node n, const fs::path& folder, v1::PayloadSchema& out) {
  if (n.Flag("any_json")) {
    out.set_any_json(true);
  } else {
    auto* proto = out.mutable_proto();
    proto->set_message(n.Text("message"));
    if (n.Has("proto")) {
      const std::string set = CompileProtoSchema(folder.string(), n.Text("proto"));
      proto->mutable_descriptor_set()->ParseFromString(set);
    } else if (n.Has("descriptor_set")) {
      const std::string bytes = ReadBytes(folder / n.Text("descriptor_set"), n.Path("descriptor_set"));
      if (!proto->mutable_descriptor_set()->ParseFromString(bytes)) {
        throw PermanentError(n.Path("descriptor_set") + " is not a FileDescriptorSet (protoc --include_imports -o)",
                             n.Path("descriptor_set"));
      }
    } else {
      throw PermanentError(n.Path("proto") + ": give proto (a .proto file), descriptor_set, or any_json: true",
                           n.Path("proto"));
    }
  }
  n.Done();
}

void ReadHandler(Node n, v1::HandlerSettings& out) {
  if (n.Has("http")) {
    Node http = n.Child("http");
    out.mutable_http()->set_url(http.Text("url"));
    out.mutable_http()->set_concurrency(static_cast<uint32_t>(http.Number("concurrency", 100000)));
    http.Done();
  } else if (n.Has("exec")) {
    Node exec = n.Child("exec");
    for (const auto& arg : exec.List("command")) out.mutable_exec()->add_command(arg);
    out.mutable_exec()->set_concurrency(static_cast<uint32_t>(exec.Number("concurrency", 100000)));
    out.mutable_exec()->set_grace_ms(static_cast<uint32_t>(exec.Millis("grace")));
    exec.Done();
  } else if (n.Has("builtin")) {
    // `builtin: <the type's name>`: compiled into a program of the C++ SDK.
    out.set_builtin(n.Text("builtin"));
  }
  n.Done();
}

std::string ReadType(Node n, const fs::path& folder) {
  v1::TaskTypeDefinition d;
  d.set_name(n.Text("name"));
  d.set_queue(n.Text("queue"));
  if (n.Has("schema")) ReadSchema(n.Child("schema"), folder, *d.mutable_schema());
  d.set_priority(static_cast<uint32_t>(n.Number("priority", 9)));
  d.set_timeout_ms(static_cast<uint32_t>(n.Millis("timeout")));
  if (n.Has("retry")) {
    Node r = n.Child("retry");
    d.mutable_retry()->set_max_attempts(static_cast<uint32_t>(r.Number("max_attempts", 100)));
    d.mutable_retry()->set_base_ms(static_cast<uint32_t>(r.Millis("base")));
    d.mutable_retry()->set_cap_ms(static_cast<uint32_t>(r.Millis("cap")));
    r.Done();
  }
  if (n.Has("limit")) {
    Node l = n.Child("limit");
    d.mutable_limit()->set_key_field(l.Text("key_field"));
    d.mutable_limit()->set_concurrency(static_cast<uint32_t>(l.Number("concurrency", 1000000)));
    if (const std::string rate = l.Text("rate"); !rate.empty()) {
      const auto slash = rate.find('/');
      if (slash == std::string::npos) throw PermanentError(l.Path("rate") + " is N/period, e.g. 60/1m", l.Path("rate"));
      try {
        d.mutable_limit()->set_rate(static_cast<uint32_t>(std::stoul(rate.substr(0, slash))));
      } catch (const std::exception&) {
        throw PermanentError(l.Path("rate") + " is N/period, e.g. 60/1m", l.Path("rate"));
      }
      d.mutable_limit()->set_period_ms(static_cast<uint32_t>(ParseDuration(rate.substr(slash + 1), l.Path("rate"))));
    }
    l.Done();
  }
  d.set_max_result_bytes(n.Number("max_result_bytes", uint64_t{64} << 20));
  if (n.Has("handler")) ReadHandler(n.Child("handler"), *d.mutable_handler());
  for (const auto& tenant : n.List("tenants")) d.add_tenants(tenant);
  n.Done();
  return d.SerializeAsString();
}

}  // namespace

std::vector<std::string> ReadTypeFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw PermanentError("cannot read " + path, "file");
  } catch (const YAML::Exception& e) {
    throw PermanentError(path + " is not YAML: " + e.what(), "file");
  }
  const fs::path folder = fs::path(path).parent_path();
  YAML::Node list = root;
  if (root.IsMap() && root["types"]) {
    if (root.size() != 1) throw PermanentError("besides `types:` the file may hold nothing", "file");
    list = root["types"];
  } else if (root.IsMap()) {
    return {ReadType(Node(root, "type"), folder)};
  }
  if (!list.IsSequence()) throw PermanentError("a types file holds `types:` with a list of types", "file");
  std::vector<std::string> out;
  for (size_t i = 0; i < list.size(); ++i) out.push_back(ReadType(Node(list[i], "types[" + std::to_string(i) + "]"), folder));
  return out;
}

}  // namespace fila::cli
