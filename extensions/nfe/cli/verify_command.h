#pragma once

// `fila nfe verify`: the verifier on files users already have.

#include "fila/core/extension.h"

namespace fila::nfe {

// `fila nfe verify PATH... [--json] [--trust-bundle PEM]`: verifies each
// file given, and every *.xml under each folder given (recursively, symbolic
// links to folders not followed), locally: no database, broker or Omie
// account. Prints one verdict per file, sorted by path (a table, or JSON
// with --json): valid; not_an_invoice (an event, response or request whose
// own checks pass); invalid (the failed checks named); or unreadable.
// Throws fila::Error (exit 1) after printing when any file is invalid or
// unreadable; PermanentError (exit 2) for an unreadable trust bundle. The
// bundle defaults to FILA_NFE_TRUST_BUNDLE.
CliCommand VerifyCommand();

}  // namespace fila::nfe
