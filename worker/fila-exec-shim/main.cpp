// fila-exec-shim: runs the command of one exec task for fila-worker, and
// makes sure that nothing the command started outlives the task
// (fila/exec_shim.h). Not meant to be run by hand.
#include "fila/exec_handler/exec_shim.h"

int main(int argc, char** argv) { return fila::exec::ShimMain(argc, argv); }
