#pragma once

#include "fila/core/extension.h"

namespace fila::nfe {

// nfe.download (docs/nfe-download.md): its type (queue "nfe", two exports
// of one account at once), the binding kinds omie_account and
// upload_target, and the handler.
fila::Extension Extension();

}  // namespace fila::nfe
