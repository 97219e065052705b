#include "cpu_watch.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "fila/core/config.h"
#include "fleet.h"

namespace fila::bench {
namespace {

struct Stat {
  pid_t ppid = 0;
  double self_s = 0;      // utime + stime
  double children_s = 0;  // cutime + cstime: its reaped children's
};

bool ReadStat(pid_t pid, Stat& out) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream fields(text.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string word; fields >> word;) f.push_back(word);
  if (f.size() < 15) return false;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  out.ppid = static_cast<pid_t>(std::stol(f[1]));
  out.self_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
  out.children_s = (std::stod(f[13]) + std::stod(f[14])) / tick;
  return true;
}

// `root` and everything under it (live descendants, and the reaped ones
// through cutime/cstime).
double TreeCpu(pid_t root, const std::map<pid_t, Stat>& all) {
  double total = 0;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    auto it = all.find(pid);
    if (it == all.end()) continue;
    total += it->second.self_s + it->second.children_s;
    for (const auto& [child, stat] : all) {
      if (stat.ppid == pid) todo.push_back(child);
    }
  }
  return total;
}

std::map<pid_t, Stat> AllProcesses() {
  std::map<pid_t, Stat> all;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    Stat stat;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (ReadStat(pid, stat)) all.emplace(pid, stat);
  }
  return all;
}

pid_t PidFromFile(const std::string& path) {
  std::ifstream file(path);
  long pid = 0;
  if (file >> pid) return static_cast<pid_t>(pid);
  return 0;
}

// The machine's "cpu" line of /proc/stat: user nice system idle iowait irq
// softirq steal (ticks), every process included.
std::vector<double> MachineTicks() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  std::vector<double> ticks;
  file >> cpu;
  for (int i = 0; i < 8 && file; ++i) {
    double t = 0;
    file >> t;
    ticks.push_back(t);
  }
  ticks.resize(8, 0);
  return ticks;
}

}  // namespace

CpuWatch::CpuWatch(const std::string& database_url, const Fleet* fleet) : fleet_(fleet) {
  try {  // the postmaster is the parent of this connection's backend
    pqxx::connection c(database_url);
    pqxx::nontransaction tx(c);
    const auto backend = static_cast<pid_t>(tx.exec1("SELECT pg_backend_pid()")[0].as<int>());
    Stat stat;
    if (ReadStat(backend, stat)) postmaster_ = stat.ppid;
  } catch (const std::exception&) {
    postmaster_ = 0;  // another machine's server: not counted
  }
  const std::string stack = EnvOr("FILA_BENCH_STACK_DIR", "");
  if (!stack.empty()) rabbitmq_ = PidFromFile(stack + "/rabbitmq/rabbitmq.pid");
  Start();
}

void CpuWatch::Start() {
  start_ = Read();
  machine_start_ = MachineTicks();
  t0_ = std::chrono::steady_clock::now();
}

std::vector<std::pair<std::string, double>> CpuWatch::Read() const {
  const auto all = AllProcesses();
  std::vector<std::pair<std::string, double>> out;
  auto own = [&](pid_t pid) {
    auto it = all.find(pid);
    return it == all.end() ? 0.0 : it->second.self_s + it->second.children_s;
  };
  if (fleet_ != nullptr) {
    if (fleet_->scheduler_pid() > 0) out.emplace_back("scheduler", own(fleet_->scheduler_pid()));
    double workers = 0;
    for (pid_t pid : fleet_->worker_pids()) workers += own(pid);
    if (!fleet_->worker_pids().empty()) out.emplace_back("workers", workers);
  }
  if (postmaster_ > 0) out.emplace_back("postgres", TreeCpu(postmaster_, all));
  if (rabbitmq_ > 0) out.emplace_back("beam.smp", TreeCpu(rabbitmq_, all));
  // fila-bench's own threads only (its children are the daemons above).
  auto self = all.find(getpid());
  out.emplace_back("fila-bench (load)", self == all.end() ? 0.0 : self->second.self_s);
  return out;
}

std::string CpuWatch::Note() const {
  const auto now = Read();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  char head[120];
  std::snprintf(head, sizeof head, "CPU s over %.1f s (%u cores: %.1f core-s):", wall, cores, wall * cores);
  std::string note = head;
  double sum = 0;
  for (const auto& [name, value] : now) {
    double before = 0;
    for (const auto& [n, v] : start_) {
      if (n == name) before = v;
    }
    char part[80];
    std::snprintf(part, sizeof part, " %s %.1f,", name.c_str(), value - before);
    note += part;
    sum += value - before;
  }
  // What every process on the machine did meanwhile: another load on a
  // shared machine, or a disk that makes commits wait, shows here.
  const std::vector<double> machine = MachineTicks();
  double all = 0;
  std::vector<double> d(8, 0);
  for (size_t i = 0; i < 8; ++i) {
    d[i] = machine[i] - machine_start_[i];
    all += d[i];
  }
  const double busy = all > 0 ? 100 * (all - d[3] - d[4]) / all : 0;
  const double iowait = all > 0 ? 100 * d[4] / all : 0;
  char tail[160];
  std::snprintf(tail, sizeof tail,
                " sum %.1f (%.0f%% of the cores); the whole machine meanwhile: %.0f%% busy, %.0f%% iowait",
                sum, 100 * sum / (wall * cores), busy, iowait);
  return note + tail;
}

}  // namespace fila::bench
