#pragma once

// The web console's static files, built into the binary (console/assets,
// embedded by console/embed.cmake): fila-scheduler serves them at /ui.

#include <optional>
#include <string_view>

namespace fila {

struct ConsoleAsset {
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // static storage: valid for the whole process
};

// The asset at `path`, relative to /ui/ ("" and "index.html" are the page,
// "js/app.js" a module), or nullopt. Only exact names of the embedded
// table match: "..", "//" or a query never reach a file. Thread-safe.
std::optional<ConsoleAsset> FindConsoleAsset(std::string_view path);

}  // namespace fila
