#pragma once

// diario.process's CLI commands.

#include <vector>

#include "fila/core/extension.h"

namespace fila::diario {

// `fila diario backfill --tribunal T --from D --to D [--queue Q]
// [--priority P] [--tenant T] [--use-llm]`: one diario.process task per day
// of [from, to], each with the idempotency key
// "diario.process:<tribunal>:<date>", so running it again enqueues nothing
// new; prints how many were created and how many existed. At most 20 years
// at once.
//
// `fila diario stats [--json] [--gazettes N]`, also `fila stats --type
// diario.process` (database only; N = 10): tasks done / no gazette / failed
// / pending / cancelled, what the stored gazettes hold (pages, entries,
// decisions, invalid numbers), the decisions whose outcome is
// 'desconhecido' and their share, in total and for each of the latest N
// gazettes.
std::vector<CliCommand> Commands();

}  // namespace fila::diario
