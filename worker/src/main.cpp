// fila-worker: the SDK's worker (fila/sdk.h) with fila's own job kinds.
#include "fila/extensions/extensions.h"
#include "fila/worker/sdk.h"

int main(int argc, char** argv) {
  fila::WorkerSetup setup;
  setup.extensions = fila::BuiltinExtensions();
  return fila::RunWorker(argc, argv, setup);
}
