#include "fila/test_support/netns.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace fila::test {
namespace {

// Shared with scripts/netns-lib.sh: one allocation of a /30 at a time.
constexpr const char* kLockFile = "/tmp/fila-netns.lock";

struct CommandResult {
  int status = -1;  // exit code, -1 when it did not exit
  std::string output;  // stdout and stderr
};

// iproute2's tools live in sbin, which a test's PATH may lack.
std::string Tool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

const std::string& IpPath() {
  static const std::string path = Tool("ip");
  return path;
}

CommandResult Run(const std::vector<std::string>& argv) {
  CommandResult result;
  int out[2];
  if (argv.empty() || argv[0].empty() || ::pipe2(out, O_CLOEXEC) != 0) return result;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) result.output.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  } else {
    result.output = "cannot run " + argv[0];
  }
  ::close(out[0]);
  return result;
}

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string RandomSuffix(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kChars[rng() % 36];
  return s;
}

// Namespaces fila-<pid>-* whose process is gone: a test killed before its
// destructor ran. Deleting the namespace deletes its veth pair too.
void SweepOrphans() {
  const auto list = Run({IpPath(), "netns", "list"});
  std::istringstream lines(list.output);
  std::string line;
  static const std::regex kName(R"(^(fila-([0-9]+)-[a-z0-9]+)\b.*)");
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, kName)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(m[2]));
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    Run({IpPath(), "netns", "del", m[1]});
  }
}

// A /30 of 10.213.0.0/16 whose host end no interface here has.
std::pair<std::string, std::string> FreeSubnet() {
  const std::string used = Run({IpPath(), "-4", "-o", "addr", "show"}).output;
  static thread_local std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < 1000; ++i) {
    const std::string prefix = "10.213." + std::to_string(rng() % 256) + ".";
    const unsigned base = (rng() % 64) * 4;
    const std::string host = prefix + std::to_string(base + 1);
    if (used.find(" " + host + "/") == std::string::npos) return {host, prefix + std::to_string(base + 2)};
  }
  throw std::runtime_error("no free /30 in 10.213.0.0/16");
}

class FileLock {
 public:
  explicit FileLock(const char* path) : fd_(::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

std::string NetNs::Unavailable() {
  if (::geteuid() != 0) return "network namespaces need root (CAP_NET_ADMIN); running as uid " +
                               std::to_string(::geteuid());
  if (IpPath().empty()) return "`ip` not found (install iproute2: scripts/install-deps)";
  const std::string probe = "fila-" + std::to_string(::getpid()) + "-probe" + RandomSuffix(4);
  const auto added = Run({IpPath(), "netns", "add", probe});
  if (added.status != 0) return "`ip netns add` is not permitted here: " + added.output;
  Run({IpPath(), "netns", "del", probe});
  return {};
}

std::vector<uint16_t> NetNs::LoopbackPorts(const std::vector<std::string>& urls) {
  static const std::regex kHostPort(R"((?:127\.0\.0\.1|localhost):([0-9]{1,5}))");
  std::set<uint16_t> ports;
  for (const auto& url : urls) {
    for (std::sregex_iterator it(url.begin(), url.end(), kHostPort), end; it != end; ++it) {
      ports.insert(static_cast<uint16_t>(std::stoi((*it)[1])));
    }
  }
  return {ports.begin(), ports.end()};
}

NetNs::NetNs(const std::vector<uint16_t>& ports) {
  if (const std::string why = Unavailable(); !why.empty()) throw std::runtime_error(why);
  SweepOrphans();
  const std::string id = RandomSuffix(6);
  name_ = "fila-" + std::to_string(::getpid()) + "-" + id;
  host_if_ = "fh" + id;
  inner_if_ = "fn" + id;
  try {
    {
      FileLock lock(kLockFile);
      std::tie(host_address_, inner_address_) = FreeSubnet();
      Ip({"netns", "add", name_});
      Ip({"link", "add", host_if_, "type", "veth", "peer", "name", inner_if_, "netns", name_});
      Ip({"addr", "add", host_address_ + "/30", "dev", host_if_});
    }
    Ip({"link", "set", host_if_, "up"});
    Ip({"-n", name_, "addr", "add", inner_address_ + "/30", "dev", inner_if_});
    Ip({"-n", name_, "link", "set", inner_if_, "up"});
    // Loopback inside too: the worker's callback server listens there.
    Ip({"-n", name_, "link", "set", "lo", "up"});
    for (uint16_t port : ports) {
      forwarders_.push_back(std::make_unique<TcpForwarder>(host_address_, port, "127.0.0.1", port));
    }
  } catch (...) {
    Remove();
    throw;
  }
}

NetNs::~NetNs() { Remove(); }

void NetNs::Remove() noexcept {
  forwarders_.clear();
  if (!host_if_.empty()) Run({IpPath(), "link", "del", host_if_});
  if (!name_.empty()) Run({IpPath(), "netns", "del", name_});
  host_if_.clear();
  name_.clear();
}

void NetNs::Ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{IpPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = Run(argv);
  if (r.status != 0) throw std::runtime_error(Joined(argv) + " failed: " + r.output);
}

std::string NetNs::Rewrite(const std::string& url) const {
  static const std::regex kLoopback(R"((127\.0\.0\.1|localhost):)");
  return std::regex_replace(url, kLoopback, host_address_ + ":");
}

std::vector<std::string> NetNs::Exec() const { return {IpPath(), "netns", "exec", name_}; }

void NetNs::Cut() { Ip({"-n", name_, "link", "set", inner_if_, "down"}); }

void NetNs::Heal() { Ip({"-n", name_, "link", "set", inner_if_, "up"}); }

bool NetNs::Delay(int ms) {
  static const std::string tc = Tool("tc");
  const std::vector<std::vector<std::string>> qdiscs{{tc, "qdisc"}, {tc, "-n", name_, "qdisc"}};
  const std::vector<std::string> devs{host_if_, inner_if_};
  for (size_t i = 0; i < devs.size(); ++i) {
    std::vector<std::string> argv = qdiscs[i];
    if (ms <= 0) {
      argv.insert(argv.end(), {"del", "dev", devs[i], "root"});
      if (delayed_) Run(argv);
      continue;
    }
    argv.insert(argv.end(), {"replace", "dev", devs[i], "root", "netem", "delay", std::to_string(ms) + "ms"});
    const auto r = Run(argv);
    if (r.status != 0) {
      // "Specified qdisc kind is unknown": the kernel has no sch_netem.
      if (r.output.find("kind is unknown") != std::string::npos) return false;
      throw std::runtime_error(Joined(argv) + " failed: " + r.output);
    }
    delayed_ = true;
  }
  if (ms <= 0) delayed_ = false;
  return true;
}

}  // namespace fila::test
