#include "zip_batch.h"

#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "fila/core/errors.h"

namespace fila::nfe {
namespace {

std::string ZipError(zip_t* z) { return z ? zip_strerror(z) : "unknown libzip error"; }

std::unique_ptr<zip_t, decltype(&zip_discard)> OpenRead(const std::string& path) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (z == nullptr) throw TransientError("cannot open zip " + path + " (libzip error " + std::to_string(error) + ")");
  return {z, zip_discard};
}

}  // namespace

void WriteZip(const std::string& zip_path, const std::vector<ZipEntry>& entries,
              const std::string& manifest_json) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(zip_path).parent_path(), ec);
  const std::string tmp = zip_path + ".tmp";
  std::remove(tmp.c_str());
  int error = 0;
  zip_t* z = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (z == nullptr) throw TransientError("cannot create zip " + tmp + " (libzip error " + std::to_string(error) + ")");
  auto fail = [&](const std::string& what) {
    std::string message = what + ": " + ZipError(z);
    zip_discard(z);
    std::remove(tmp.c_str());
    throw TransientError(message);
  };
  for (const auto& e : entries) {
    zip_source_t* src = zip_source_file(z, e.source_path.c_str(), 0, -1);
    if (src == nullptr) fail("cannot read " + e.source_path);
    if (zip_file_add(z, e.name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
      zip_source_free(src);
      fail("cannot add " + e.name);
    }
  }
  // libzip reads the buffer at zip_close: `manifest_json` outlives it.
  zip_source_t* manifest = zip_source_buffer(z, manifest_json.data(), manifest_json.size(), 0);
  if (manifest == nullptr || zip_file_add(z, "manifest.json", manifest, ZIP_FL_OVERWRITE) < 0) {
    if (manifest != nullptr) zip_source_free(manifest);
    fail("cannot add manifest.json");
  }
  if (zip_close(z) != 0) fail("cannot write zip " + tmp);
  if (std::rename(tmp.c_str(), zip_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw TransientError("cannot rename zip onto " + zip_path);
  }
}

std::vector<std::string> ZipNames(const std::string& zip_path) {
  auto z = OpenRead(zip_path);
  std::vector<std::string> names;
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) names.emplace_back(zip_get_name(z.get(), static_cast<zip_uint64_t>(i), 0));
  return names;
}

std::string ZipRead(const std::string& zip_path, const std::string& name) {
  auto z = OpenRead(zip_path);
  zip_stat_t st;
  if (zip_stat(z.get(), name.c_str(), 0, &st) != 0) throw TransientError("no " + name + " in " + zip_path);
  std::unique_ptr<zip_file_t, decltype(&zip_fclose)> f(zip_fopen(z.get(), name.c_str(), 0), zip_fclose);
  if (!f) throw TransientError("cannot open " + name + " in " + zip_path);
  std::string out(st.size, '\0');
  if (zip_fread(f.get(), out.data(), st.size) != static_cast<zip_int64_t>(st.size)) {
    throw TransientError("short read of " + name);
  }
  return out;
}

}  // namespace fila::nfe
