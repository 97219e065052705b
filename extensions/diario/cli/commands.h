#pragma once

// diario.process's CLI commands.

#include <vector>

#include "fila/core/extension.h"

namespace fila::diario {

// `fila diario backfill` and `fila diario status`: backfill.h.
//
// `fila diario stats [--json] [--gazettes N]`, also `fila stats --type
// diario.process` (database only; N = 10): tasks done / no gazette / failed
// / pending / cancelled, what the stored gazettes hold (pages, entries,
// decisions, invalid numbers), the decisions whose outcome is
// 'desconhecido' and their share, in total and for each of the latest N
// gazettes.
std::vector<CliCommand> Commands();

}  // namespace fila::diario
