#include "fila/worker/sdk.h"

namespace fila {

const char* SdkVersion() { return FILA_VERSION; }

}  // namespace fila
