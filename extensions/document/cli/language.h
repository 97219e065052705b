#pragma once

#include "fila/core/extension.h"

namespace fila::document {

// `fila document language [LANGUAGE] [--tenant T] [--owner O] [--json]`:
// with LANGUAGE, sets the text search language of owner O's documents in
// tenant T (default "default"; no --owner: the tenant's default for owners
// without a setting) and re-indexes their stored chunks; without, lists
// the settings, the languages known and whether accents are folded.
// Reads and writes the database only.
CliCommand LanguageCommand();

}  // namespace fila::document
