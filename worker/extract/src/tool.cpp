#include "fila/extract/tool.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "exit_codes.h"
#include "fila/core/errors.h"
#include "fila/core/text_limit.h"

namespace fila::extract {
namespace {

// Only write(2) and _exit(2): the heap is what ran out.
[[noreturn]] void OutOfMemory() {
  static const char kMessage[] = "fila-extract: out of memory\n";
  (void)!::write(2, kMessage, sizeof kMessage - 1);
  ::_exit(kExitOutOfMemory);
}

void WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(kExitFailed);  // the worker stopped reading: nobody to tell
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string ReadAll(int fd) {
  std::string out;
  if (const char* size = std::getenv(kInputBytesVariable)) out.reserve(std::strtoull(size, nullptr, 10));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(std::string("reading stdin: ") + std::strerror(errno));
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

[[noreturn]] void Fail(int status, std::string_view message) {
  WriteAll(2, TruncateText(message));
  WriteAll(2, "\n");
  ::_exit(status);
}

}  // namespace

int ToolMain(int argc, char** argv, const std::map<std::string, Command>& commands) {
  // The worker that started this process waits for it; if the worker dies,
  // so does this process, whatever it is parsing.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // ... including when it died before the line above.
  if (const char* parent = std::getenv(kParentVariable);
      parent != nullptr && std::to_string(::getppid()) != parent) {
    return kExitFailed;
  }
  // When the extractors of a pod overrun its memory together, the OOM
  // killer takes one of them, never the worker.
  if (const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!::write(fd, "1000", 4);
    ::close(fd);
  }
  // operator new (and the allocators of C parsers that use it) report an
  // exhausted RLIMIT_AS with a status of their own.
  std::set_new_handler(&OutOfMemory);
  if (argc < 2 || commands.find(argv[1]) == commands.end()) {
    std::string names;
    for (const auto& [name, command] : commands) names += (names.empty() ? "" : "|") + name;
    Fail(kExitFailed, "usage: fila-extract " + names + " [--option=value...] < document > result");
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    const std::string result = commands.at(argv[1])(args, ReadAll(0));
    WriteAll(1, result);
  } catch (const PermanentError& e) {
    Fail(kExitRefused, e.what());
  } catch (const std::bad_alloc&) {
    OutOfMemory();
  } catch (const std::exception& e) {
    Fail(kExitFailed, e.what());
  }
  // The result is out: skip destructors of whatever the parsers built.
  ::_exit(0);
}

}  // namespace fila::extract
