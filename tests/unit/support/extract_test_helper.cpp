// A fila-extract stand-in for the sandbox's tests: the real helper's
// protocol (ToolMain) with commands that misbehave on purpose. Not product
// code.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fila/core/errors.h"
#include "fila/extract/tool.h"

extern char** environ;

namespace {

using Args = std::vector<std::string>;

std::string Echo(const Args&, std::string input) { return input; }

std::string Refuse(const Args&, std::string) { throw fila::PermanentError("this document is refused"); }

std::string Crash(const Args&, std::string) {
  std::raise(SIGSEGV);
  return "";
}

// Touches every page, so that the memory is really used.
std::string SelfKill(const Args&, std::string) {
  std::raise(SIGKILL);
  return "";
}

std::string OomScore(const Args&, std::string) {
  std::ifstream in("/proc/self/oom_score_adj");
  std::string value;
  in >> value;
  return value;
}

std::string Bomb(const Args&, std::string) {
  std::vector<std::vector<char>> blocks;
  while (true) blocks.emplace_back(1 << 20, 'x');
}

std::string Spin(const Args&, std::string) {
  volatile unsigned long n = 0;
  while (true) n = n + 1;
}

std::string Sleep(const Args&, std::string) {
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}

std::string Flood(const Args&, std::string) { return std::string(size_t{8} << 20, 'y'); }

// The descriptors and the environment the helper got.
std::string Inherited(const Args&, std::string) {
  std::string out;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(dir);
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.' || std::atoi(e->d_name) == own) continue;
      out += std::string("fd ") + e->d_name + "\n";
    }
    ::closedir(dir);
  }
  for (char** e = environ; *e != nullptr; ++e) out += std::string("env ") + *e + "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // Exits without reading its input: the caller's writes then meet EPIPE.
  if (argc > 1 && std::strcmp(argv[1], "quit") == 0) ::_exit(0);
  return fila::extract::ToolMain(argc, argv,
                                 {{"echo", &Echo},
                                  {"refuse", &Refuse},
                                  {"crash", &Crash},
                                  {"selfkill", &SelfKill},
                                  {"oom-score", &OomScore},
                                  {"bomb", &Bomb},
                                  {"spin", &Spin},
                                  {"sleep", &Sleep},
                                  {"flood", &Flood},
                                  {"inherited", &Inherited}});
}
