#pragma once

#include <vector>

#include "fila/core/extension.h"

namespace fila {

// fila's own job kinds (extensions/), for InstallExtensions and
// WorkerSetup::extensions. Each call builds them anew.
std::vector<Extension> BuiltinExtensions();

}  // namespace fila
