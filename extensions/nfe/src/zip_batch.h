#pragma once

#include <string>
#include <vector>

namespace fila::nfe {

struct ZipEntry {
  std::string name;         // path inside the zip
  std::string source_path;  // file on disk
};

// Writes a zip of `entries` plus `manifest_json` as "manifest.json" to
// `zip_path` atomically (temporary name, then rename). Throws
// TransientError when a file cannot be read or the zip written.
void WriteZip(const std::string& zip_path, const std::vector<ZipEntry>& entries,
              const std::string& manifest_json);

// The names in a zip (for tests and the report); throws TransientError.
std::vector<std::string> ZipNames(const std::string& zip_path);
// One entry's bytes; throws TransientError when absent.
std::string ZipRead(const std::string& zip_path, const std::string& name);

}  // namespace fila::nfe
