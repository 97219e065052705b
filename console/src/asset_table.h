#pragma once

// The table that console/embed.cmake generates at build time.

#include <cstddef>

namespace fila::console {

struct EmbeddedAsset {
  const char* path;  // relative to console/assets, e.g. "js/app.js"
  const char* content_type;
  const unsigned char* bytes;
  size_t size;
};

extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

}  // namespace fila::console
