#include "fleet.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "db.h"

namespace fila::bench {
namespace {

// Longer than fila-worker's default drain budget (30 s).
constexpr std::chrono::seconds kStopGrace{40};

// A loopback port free right now (bound to port 0, then released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw BenchError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw BenchError("cannot find a free port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

Fleet::Fleet(const Options& options, std::string database_url, std::string queue,
             std::string log_dir)
    : options_(options),
      database_url_(std::move(database_url)),
      queue_(std::move(queue)),
      log_dir_(std::move(log_dir)) {}

Fleet::~Fleet() {
  for (auto& worker : workers_) worker->Kill();
  if (scheduler_) scheduler_->Kill();
}

EnvVars Fleet::Env() const {
  return {{"FILA_DATABASE_URL", database_url_},
          {"FILA_AMQP_URL", options_.amqp_url},
          {"FILA_QUEUE_TYPE", options_.queue_type},
          {"FILA_METRICS_LISTEN", "off"},
          {"FILA_LOG_LEVEL", "warn"},
          {"FILA_LOG_FORMAT", "text"},
          // The contention scenarios' tasks take real time (type `sleep`).
          {"FILA_ENABLE_TEST_TYPES", "1"}};
}

void Fleet::SpawnScheduler(EnvVars env) {
  env.emplace_back("FILA_INGEST", "off");
  // --scheduler-args: flags of features this build may not have yet
  // (--priority-aging 5s, --dispatch-window N, ...), appended as given.
  std::vector<std::string> args;
  std::istringstream words(options_.scheduler_args);
  for (std::string word; words >> word;) args.push_back(word);
  scheduler_ = Child::Spawn(BinDir() + "/fila-scheduler", args, env,
                            log_dir_ + "/" + queue_ + "-scheduler.log");
}

void Fleet::StartScheduler() {
  EnvVars env = Env();
  env.emplace_back("FILA_API_LISTEN", "off");
  SpawnScheduler(std::move(env));
}

std::string Fleet::StartSchedulerWithApi() {
  const int port = FreePort();
  EnvVars env = Env();
  env.emplace_back("FILA_API_LISTEN", "127.0.0.1:" + std::to_string(port));
  SpawnScheduler(std::move(env));
  return "http://127.0.0.1:" + std::to_string(port);
}

std::vector<pid_t> Fleet::worker_pids() const {
  std::vector<pid_t> pids;
  for (const auto& worker : workers_) pids.push_back(worker->pid());
  return pids;
}

void Fleet::StartWorkers() {
  const std::string run = RandomSuffix();
  for (int i = 0; i < options_.workers; ++i) {
    const std::string id = "bench-" + run + "-" + std::to_string(i + 1);
    std::vector<std::string> args{"--queues", queue_, "--concurrency",
                                  std::to_string(options_.concurrency), "--worker-id", id};
    if (options_.express_slots >= 0) {
      args.insert(args.end(), {"--express-slots", std::to_string(options_.express_slots)});
    }
    workers_.push_back(Child::Spawn(BinDir() + "/fila-worker", args, Env(),
                                    log_dir_ + "/" + queue_ + "-" + id + ".log"));
  }
}

void Fleet::CheckAlive() {
  auto check = [](Child& child) {
    if (!child.Running()) {
      throw BenchError(child.name() + " (pid " + std::to_string(child.pid()) + ") exited with " +
                       std::to_string(child.exit_status()) + "; log:\n" + child.LogTail());
    }
  };
  if (scheduler_) check(*scheduler_);
  for (auto& worker : workers_) check(*worker);
}

Fleet::Usage Fleet::Sample() {
  Usage usage;
  if (scheduler_) usage.scheduler_cpu_s = ReadProcStats(scheduler_->pid()).cpu_s;
  for (auto& worker : workers_) {
    ProcStats stats = ReadProcStats(worker->pid());
    usage.workers_cpu_s += stats.cpu_s;
    usage.worker_peak_rss_kb = std::max(usage.worker_peak_rss_kb, stats.hwm_kb);
    usage.worker_rss_kb = std::max(usage.worker_rss_kb, stats.rss_kb);
  }
  return usage;
}

void Fleet::Stop() {
  // Signal all workers first so that they drain in parallel.
  for (auto& worker : workers_) worker->SendTerm();
  std::string failures;
  auto finish = [&](std::unique_ptr<Child>& child) {
    const int status = child->Terminate(kStopGrace);
    if (status != 0) {
      failures += child->name() + " (pid " + std::to_string(child->pid()) + ") exited with " +
                  std::to_string(status) + "; log:\n" + child->LogTail();
    }
  };
  for (auto& worker : workers_) finish(worker);
  if (scheduler_) finish(scheduler_);
  workers_.clear();
  scheduler_.reset();
  if (!failures.empty()) throw BenchError("a fila daemon did not stop cleanly: " + failures);
}

}  // namespace fila::bench
