#pragma once

// What fila-worker and fila-exec-shim (shim.cpp) agree on. The worker runs
//   fila-exec-shim <worker pid> <grace ms> <program> [args...]
// per task, with the command's environment, stdin on 0, stdout on 1, stderr
// on 2, the progress pipe on 3 and the shim's status pipe on 4. The shim
// runs the command with 0-3, and reports on 4.

#include <csignal>

namespace fila::exec {

inline constexpr int kProgressFd = 3;
inline constexpr int kStatusFd = 4;

// To the shim: stop the command (SIGTERM to it and every descendant, then
// SIGKILL after the grace period), or kill it and its descendants now.
inline constexpr int kStopSignal = SIGTERM;
inline constexpr int kKillSignal = SIGUSR1;

// The shim's one line on kStatusFd, once every process of the command is
// gone (or kStraysLeft when some could not be killed):
//   "exit <code>" | "signal <number>"  how the command ended
//   "spawn <errno>"                    it could not start (posix_spawnp)
//   "fail <message>"                   the shim itself failed
inline constexpr const char* kExit = "exit";
inline constexpr const char* kSignal = "signal";
inline constexpr const char* kSpawn = "spawn";
inline constexpr const char* kFail = "fail";
// Appended to the status line when processes of the command survived
// SIGKILL for kMaxKillMs (uninterruptible, or not ours to signal).
inline constexpr const char* kStraysLeft = " strays-left";
inline constexpr int kMaxKillMs = 5000;

}  // namespace fila::exec
