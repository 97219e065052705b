#include "fila/console/console.h"

#include "asset_table.h"

namespace fila {

std::optional<ConsoleAsset> FindConsoleAsset(std::string_view path) {
  if (path.empty()) path = "index.html";
  // A table of a few dozen entries: a linear scan is as fast as a map.
  for (size_t i = 0; i < console::kEmbeddedAssetCount; ++i) {
    const auto& asset = console::kEmbeddedAssets[i];
    if (path == asset.path) {
      return ConsoleAsset{asset.content_type,
                          std::string_view(reinterpret_cast<const char*>(asset.bytes), asset.size)};
    }
  }
  return std::nullopt;
}

}  // namespace fila
