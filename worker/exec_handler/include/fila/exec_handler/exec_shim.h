#pragma once

// fila-exec-shim: the process between fila-worker and the command of one
// exec task (fila/exec_handler.h). It is a child subreaper
// (PR_SET_CHILD_SUBREAPER): whatever the command forks, even a process that
// outlives its parent, calls setsid or double-forks, stays its descendant,
// so that when the command ends, times out or is cancelled, every process
// it started is killed and reaped before the worker records the task. It
// dies with the worker's thread that started it (PR_SET_PDEATHSIG, as a
// stop request: the command gets SIGTERM and its grace period).
//
// Why a subreaper: it works for any user in any container (Linux 3.4+).
// A process group alone misses a process that called setsid; a cgroup
// would be exact but needs a delegated, writable cgroup hierarchy, which a
// non-root worker in a container rarely has; a pidfd follows one process,
// not its descendants. A per-task shim also keeps the worker itself out of
// the way: a subreaper worker would inherit every task's orphans.

namespace fila::exec {

// fila-exec-shim's main():
//   fila-exec-shim <worker pid> <grace ms> <program> [args...]
int ShimMain(int argc, char** argv);

}  // namespace fila::exec
