#pragma once

#include "fila/core/extension.h"

namespace fila::diario {

// diario.process (docs/diario-process.md): its type (queue "diario"), the
// handler, and `fila diario backfill|stats`.
fila::Extension Extension();

}  // namespace fila::diario
