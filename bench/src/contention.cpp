#include "contention.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "cpu_watch.h"
#include "fila/core/task_request.h"
#include "fila/core/task_types.h"
#include "fila/scheduler/dispatcher.h"
#include "fila_run.h"
#include "scenarios.h"

namespace fila::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kWorkersUpTimeout = std::chrono::seconds(60);
constexpr double kApiUpSeconds = 60;
constexpr double kMaxRefusedShare = 0.01;  // a rate "holds" with at most 1% answered 429

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Fmt(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string ProducerToken(const std::string& database_url, const std::string& tenant,
                          const std::string& log_path) {
  const std::string out =
      RunCapture(BinDir() + "/fila", {"tokens", "create", "--tenant", tenant, "--role", "producer"},
                 {{"FILA_DATABASE_URL", database_url}}, log_path, std::chrono::seconds(60));
  std::string token = out.substr(0, out.find('\n'));
  if (token.rfind("fila_", 0) != 0) throw BenchError("fila tokens create printed no token");
  return token;
}

// A scenario's database, queue and daemons, the scheduler with its HTTP API
// on a free port, and a producer token per tenant.
struct ApiRun {
  ApiRun(const Options& options, const std::string& log_dir, bool workers,
         const std::vector<std::string>& tenants)
      : setup(options, log_dir),
        db(setup.db.url()),
        cleanup{options.amqp_url, setup.queue},
        fleet(options, setup.db.url(), setup.queue, log_dir) {
    const std::string log = log_dir + "/" + setup.queue + "-tenants.log";
    for (const auto& tenant : tenants) {
      // A producer may enqueue only to the queues bound to its tenant.
      RunCapture(BinDir() + "/fila", {"tenants", "bind", tenant, "queue", setup.queue},
                 {{"FILA_DATABASE_URL", setup.db.url()}}, log, std::chrono::seconds(60));
      tokens.push_back(ProducerToken(setup.db.url(), tenant, log));
    }
    url = fleet.StartSchedulerWithApi();
    if (!HttpReady(url + "/v1/queues", tokens.front(), kApiUpSeconds)) {
      fleet.CheckAlive();
      throw BenchError("the scheduler's HTTP API did not answer at " + url);
    }
    if (!workers) return;
    fleet.StartWorkers();
    const auto deadline = Clock::now() + kWorkersUpTimeout;
    while (db.Workers() < options.workers) {
      ThrowIfInterrupted();
      fleet.CheckAlive();
      if (Clock::now() > deadline) throw BenchError("workers did not register in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Their broker connections settle.
    std::this_thread::sleep_for(std::chrono::milliseconds(options.smoke ? 200 : 1000));
  }
  FilaSetup setup;
  TaskDb db;
  BrokerQueueCleanup cleanup;
  Fleet fleet;
  std::string url;
  std::vector<std::string> tokens;
};

std::string NoopBody(const std::string& queue) { return R"({"type":"noop","queue":")" + queue + R"("})"; }

std::string SleepBody(const std::string& queue, int ms, int priority) {
  std::string body = R"({"type":"sleep","queue":")" + queue + R"(","args":{"ms":)" + std::to_string(ms) + "}";
  if (priority >= 0) body += R"(,"priority":)" + std::to_string(priority);
  return body + "}";
}

HttpLoadSpec Spec(const ApiRun& run, size_t token, std::string body, double rate, double seconds,
                  int connections) {
  HttpLoadSpec spec;
  spec.url = run.url;
  spec.token = run.tokens.at(token);
  spec.body = std::move(body);
  spec.rate = rate;
  spec.seconds = seconds;
  spec.connections = connections;
  return spec;
}

// BenchError when nothing got through (a wrong token, a refused body...):
// no figure can come of it.
void RequireAccepted(const HttpLoadResult& load, const std::string& what) {
  if (load.accepted == 0 && load.refused == 0) {
    throw BenchError(what + ": no request was accepted: " + load.first_error);
  }
}

std::string LoadNote(const std::string& who, const HttpLoadResult& load) {
  std::string note = who + "HTTP " + Thousands(load.rate) + " req/s offered, " + Thousands(load.achieved) +
                     "/s accepted, p50 " + Fmt("%.1f", load.p50_ms) + " ms, p99 " + Fmt("%.1f", load.p99_ms) +
                     " ms (from the due time)";
  if (load.refused > 0) {
    note += ", " + Thousands(static_cast<double>(load.refused)) + " refused with 429 (Retry-After " +
            load.first_retry_after + ")";
  }
  if (load.errors > 0) note += ", " + std::to_string(load.errors) + " errors (" + load.first_error + ")";
  if (load.unsent > 0) note += ", " + std::to_string(load.unsent) + " due but not sent in time";
  return note;
}

std::string WaitNote(const std::string& who, const TaskDb::Wait& w) {
  return who + "enqueue→start p50 " + Fmt("%.1f", w.p50_ms) + " ms, p95 " + Fmt("%.1f", w.p95_ms) +
         " ms, p99 " + Fmt("%.1f", w.p99_ms) + " ms, max " + Fmt("%.1f", w.max_ms) + " ms (" +
         Thousands(static_cast<double>(w.count)) + " tasks)";
}

NewTask SleepTask(const std::string& queue, int ms) {
  TaskRequest request;
  request.type = "sleep";
  request.queue = queue;
  request.payload_form = TaskRequest::PayloadForm::kJson;
  request.payload = R"({"ms":)" + std::to_string(ms) + "}";
  return PrepareTask(request, TaskTypes::Builtin(TestTypes::kEnabled), TaskLimits{});
}

// The capacity of the fleet for `sleep` tasks: a burn-down of them, once
// per fila-bench run (noisy and starve share it).
struct Capacity {
  double tasks_per_s = 0;
  std::string note;
};

Capacity SleepCapacity(const Options& options, const std::string& log_dir) {
  static std::optional<Capacity> measured;
  if (measured) return *measured;
  const int ms = options.sleep_ms;
  const double slots_limit = options.workers * options.concurrency * 1000.0 / ms;
  if (options.smoke) {  // no time for a burn-down: 90% of what the slots allow
    measured = Capacity{0.9 * slots_limit, "capacity taken as 90% of the slots' " + Thousands(slots_limit) +
                                               "/s (--smoke: not measured)"};
    return *measured;
  }
  const int64_t n = 3000;
  Result r =
      RunBurnDownOf(options, n, log_dir, "sleep " + std::to_string(ms) + " ms",
                    [ms](const std::string&, const std::string& queue) { return SleepTask(queue, ms); });
  Capacity c;
  c.tasks_per_s = r.tasks_per_s;
  c.note = "capacity " + Thousands(r.tasks_per_s) + "/s, from a burn-down of " +
           Thousands(static_cast<double>(n)) + " sleep " + std::to_string(ms) + " ms tasks in this run (" +
           std::to_string(options.workers) + "×" + std::to_string(options.concurrency) + " slots: at most " +
           Thousands(slots_limit) + "/s)";
  measured = c;
  return c;
}

// The load meant to exceed the workers' capacity did not get in (the API
// admitted less): the figure then says nothing about contention.
std::string NotOverloaded(double accepted, const Capacity& capacity) {
  return "**not overloaded**: the API accepted " + Thousands(accepted) + "/s, below the workers' capacity (" +
         Thousands(capacity.tasks_per_s) + "/s): the HTTP API, not the workers, bounded this run";
}

// "--flag 5s" (or "--flag=5s") from --scheduler-args, else `otherwise`.
std::string SchedulerFlag(const std::string& scheduler_args, const std::string& flag,
                          const std::string& otherwise) {
  std::istringstream words(scheduler_args);
  std::vector<std::string> w;
  for (std::string word; words >> word;) w.push_back(word);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == flag && i + 1 < w.size()) return w[i + 1];
    if (w[i].rfind(flag + "=", 0) == 0) return w[i].substr(flag.size() + 1);
  }
  return otherwise;
}

// The window and the aging as fila-scheduler reads --scheduler-args (its
// defaults when absent); no window: no aging.
double WindowSetting(const std::string& scheduler_args) {
  return std::stod(
      SchedulerFlag(scheduler_args, "--dispatch-window", std::to_string(kDefaultDispatchWindow)));
}

std::string AgingSetting(const std::string& scheduler_args) {
  if (WindowSetting(scheduler_args) == 0) return "none";
  return SchedulerFlag(scheduler_args, "--priority-aging", kDefaultPriorityAging);
}

// The wait docs/fairness.md promises a priority-0 task, in ms: nine aging
// intervals (read as fila-scheduler reads --priority-aging; the bench's
// queue takes the default), then at most one window of ready messages
// ahead of it at the measured capacity. None without aging.
std::optional<double> AgingBoundMs(const std::string& scheduler_args, const Capacity& capacity) {
  const std::string aging = AgingSetting(scheduler_args);
  if (aging == "none") return std::nullopt;
  DispatchOptions parsed;
  ParsePriorityAging(aging, parsed);  // the scheduler refuses what this refuses
  const auto ms = static_cast<double>(parsed.default_aging.count());
  if (ms <= 0) return std::nullopt;
  const double window = WindowSetting(scheduler_args);
  return 9 * ms + window / std::max(capacity.tasks_per_s, 1.0) * 1000;
}

void AwaitAccepted(ApiRun& run, int64_t total, const std::string& what) {
  AwaitDrained(run.db, run.fleet, run.setup.queue, total, what);
}

}  // namespace

Result RunHttpEnqueue(const Options& options, const std::string& log_dir) {
  ApiRun run(options, log_dir, /*workers=*/false, {"bench"});
  CpuWatch cpu(options.database_url, &run.fleet);
  Result r;
  r.kind = Result::Kind::kHttpEnqueue;
  r.label = "HTTP enqueue, one task per request (" + std::to_string(options.http_connections) +
            " keep-alive connections, open loop)";
  r.goal = "≥ 4,000 requests/s at p99 ≤ 25 ms";
  double best = 0;
  std::vector<std::string> steps;
  for (int rate : options.http_rates) {
    run.fleet.CheckAlive();
    HttpLoadSpec spec =
        Spec(run, 0, NoopBody(run.setup.queue), rate, options.http_seconds, options.http_connections);
    spec.warmup = options.smoke ? 0.3 : 1;
    Say("http-enqueue: " + Thousands(rate) + " requests/s for " + Fmt("%g", spec.seconds) + " s");
    const HttpLoadResult load = RunHttpLoad(spec);
    RequireAccepted(load, "http-enqueue");
    const int64_t answered = load.measured + load.refused;
    const bool holds = load.p99_ms <= 25 && load.errors == 0 && load.unsent == 0 &&
                       static_cast<double>(load.refused) <= kMaxRefusedShare * static_cast<double>(answered);
    std::string step = Thousands(rate) + "/s: p50 " + Fmt("%.1f", load.p50_ms) + ", p99 " +
                       Fmt("%.1f", load.p99_ms) + " ms (" + Thousands(static_cast<double>(load.measured)) +
                       " answered)";
    if (load.refused > 0) step += ", 429 ×" + std::to_string(load.refused);
    if (load.errors > 0) step += ", " + std::to_string(load.errors) + " errors (" + load.first_error + ")";
    if (load.unsent > 0) step += ", " + std::to_string(load.unsent) + " not sent in time";
    steps.push_back(step + (holds ? "" : " ✗"));
    Say("http-enqueue: " + step);
    if (!holds) break;  // higher rates only queue more
    best = rate;
  }
  r.tasks_per_s = best;
  r.figure = Thousands(best) + " requests/s";
  r.goal_met = best >= 4000;
  r.notes.push_back("the highest offered rate (" + Fmt("%g", options.http_seconds) +
                    " s each) with p99 ≤ 25 ms measured from each request's due time, no error, none left "
                    "unsent, ≤ 1% refused (429); no workers (the relay publishes meanwhile)");
  std::string joined;
  for (const auto& s : steps) joined += (joined.empty() ? "" : ", ") + s;
  r.notes.push_back(joined);
  r.notes.push_back(cpu.Note());
  run.fleet.Stop();
  return r;
}

E2e RunE2eAt(const Options& options, int rate, double seconds, const std::string& log_dir) {
  const std::string what = "e2e " + Thousands(rate) + "/s";
  ApiRun run(options, log_dir, /*workers=*/true, {"bench"});
  CpuWatch cpu(options.database_url, &run.fleet);
  Say(what + ": single-task HTTP enqueues for " + Fmt("%g", seconds) + " s into queue " + run.setup.queue);
  const double t0 = UnixNow() + 0.1;  // RunHttpLoad starts 100 ms in
  E2e e;
  e.load = RunHttpLoad(Spec(run, 0, NoopBody(run.setup.queue), rate, seconds, options.http_connections));
  RequireAccepted(e.load, what);
  AwaitAccepted(run, e.load.accepted, what);
  e.cpu = cpu.Note();
  run.fleet.Stop();
  VerifyAllSucceeded(run.db, run.setup.queue, e.load.accepted, what);
  e.wait = run.db.WaitOf(run.setup.queue, "", -1, t0 + options.steady_warmup_seconds, 1e12);
  const TaskSpan span = run.db.Span(run.setup.queue);
  e.sustained =
      static_cast<double>(e.load.accepted) / std::max(span.last_finished - span.first_created, 1e-6);
  Say(what + ": p50 " + Fmt("%.1f", e.wait.p50_ms) + " ms, p99 " + Fmt("%.1f", e.wait.p99_ms) + " ms");
  return e;
}

Result RunE2eSingle(const Options& options, const std::string& log_dir) {
  const double seconds = options.smoke ? 2 : options.steady_seconds;
  const E2e e = RunE2eAt(options, options.e2e_rate, seconds, log_dir);
  Result r;
  r.kind = Result::Kind::kE2eSingle;
  r.offered_rate = options.e2e_rate;
  r.tasks = e.load.accepted;
  r.label = "end to end at " + Thousands(options.e2e_rate) + "/s, one task per HTTP request (" +
            std::to_string(options.workers) + "×" + std::to_string(options.concurrency) + ")";
  r.tasks_per_s = e.sustained;
  r.p99_ms = e.wait.p99_ms;
  r.figure = "p99 " + Fmt("%.1f", e.wait.p99_ms) + " ms";
  r.goal = "p99 enqueue→start ≤ 50 ms";
  r.goal_met = e.wait.p99_ms <= 50 && e.load.refused == 0 && e.load.unsent == 0;
  r.notes.push_back(WaitNote("", e.wait) + ", first " + Fmt("%g", options.steady_warmup_seconds) +
                    " s left out; database timestamps");
  r.notes.push_back(LoadNote("", e.load));
  r.notes.push_back(e.cpu);
  return r;
}

Result RunNoisy(const Options& options, const std::string& log_dir) {
  const Capacity capacity = SleepCapacity(options, log_dir);
  ApiRun run(options, log_dir, /*workers=*/true, {"tenant-a", "tenant-b"});
  CpuWatch cpu(options.database_url, &run.fleet);
  const double total = options.overload * capacity.tasks_per_s;
  const double rate_a = 0.9 * total;
  const double rate_b = std::max(1.0, 0.1 * total);
  const std::string body = SleepBody(run.setup.queue, options.sleep_ms, -1);
  const double seconds = options.contention_seconds;
  const int conns_a = options.http_connections;
  const int conns_b = std::max(2, options.http_connections / 8);

  Say("noisy: tenant B alone at " + Thousands(rate_b) + "/s for " + Fmt("%g", seconds) + " s");
  const double alone_t0 = UnixNow();
  const HttpLoadResult b_alone = RunHttpLoad(Spec(run, 1, body, rate_b, seconds, conns_b));
  const double alone_t1 = UnixNow();
  RequireAccepted(b_alone, "noisy (B alone)");
  AwaitAccepted(run, b_alone.accepted, "noisy (B alone)");

  Say("noisy: tenant A at " + Thousands(rate_a) + "/s and B at " + Thousands(rate_b) + "/s for " +
      Fmt("%g", seconds) + " s");
  const double both_t0 = UnixNow();
  HttpLoadResult a;
  std::thread a_thread([&] { a = RunHttpLoad(Spec(run, 0, body, rate_a, seconds, conns_a)); });
  const HttpLoadResult b = RunHttpLoad(Spec(run, 1, body, rate_b, seconds, conns_b));
  a_thread.join();
  const double both_t1 = UnixNow();
  RequireAccepted(a, "noisy (A)");
  const int64_t accepted = b_alone.accepted + a.accepted + b.accepted;
  AwaitAccepted(run, accepted, "noisy (A and B)");
  const std::string cpu_note = cpu.Note();
  run.fleet.Stop();
  VerifyAllSucceeded(run.db, run.setup.queue, accepted, "noisy");

  const TaskDb::Wait alone = run.db.WaitOf(run.setup.queue, "tenant-b", -1, alone_t0, alone_t1);
  const TaskDb::Wait with_a = run.db.WaitOf(run.setup.queue, "tenant-b", -1, both_t0, both_t1);
  const TaskDb::Wait of_a = run.db.WaitOf(run.setup.queue, "tenant-a", -1, both_t0, both_t1);
  const double ratio = with_a.p95_ms / std::max(alone.p95_ms, 1e-3);
  Result r;
  r.kind = Result::Kind::kNoisy;
  if (a.achieved + b.achieved < capacity.tasks_per_s)
    r.notes.push_back(NotOverloaded(a.achieved + b.achieved, capacity));
  r.label = "noisy neighbour: tenant A 90% + B 10% of " + Fmt("%.1f", options.overload) +
            "× capacity (sleep " + std::to_string(options.sleep_ms) + " ms)";
  r.tasks_per_s = a.achieved + b.achieved;
  r.figure = "B p95 " + Fmt("%.1f", with_a.p95_ms) + " ms vs " + Fmt("%.1f", alone.p95_ms) + " ms alone (" +
             Fmt("%.1f", ratio) + "×)";
  r.goal = "B's p95 wait within 2× of B alone";
  if (a.achieved + b.achieved >= capacity.tasks_per_s) r.goal_met = ratio <= 2;  // else not judged
  r.notes.push_back(WaitNote("B with A: ", with_a));
  r.notes.push_back(WaitNote("B alone: ", alone));
  r.notes.push_back(WaitNote("A: ", of_a));
  r.notes.push_back(capacity.note);
  r.notes.push_back(LoadNote("A: ", a));
  r.notes.push_back(LoadNote("B: ", b));
  r.notes.push_back(cpu_note);
  return r;
}

Result RunStarve(const Options& options, const std::string& log_dir) {
  const Capacity capacity = SleepCapacity(options, log_dir);
  ApiRun run(options, log_dir, /*workers=*/true, {"bench"});
  CpuWatch cpu(options.database_url, &run.fleet);
  const double rate_high = options.overload * capacity.tasks_per_s;
  const double rate_low = std::max(5.0, 0.02 * capacity.tasks_per_s);
  const double seconds = options.contention_seconds;
  const std::string aging = AgingSetting(options.scheduler_args);
  Say("starve: priority 9 at " + Thousands(rate_high) + "/s and priority 0 at " + Thousands(rate_low) +
      "/s for " + Fmt("%g", seconds) + " s (priority aging: " + aging + ")");
  const double t0 = UnixNow();
  HttpLoadResult high;
  std::thread high_thread([&] {
    high = RunHttpLoad(Spec(run, 0, SleepBody(run.setup.queue, options.sleep_ms, 9), rate_high, seconds,
                            options.http_connections));
  });
  const HttpLoadResult low =
      RunHttpLoad(Spec(run, 0, SleepBody(run.setup.queue, options.sleep_ms, 0), rate_low, seconds, 4));
  high_thread.join();
  const double t1 = UnixNow();
  RequireAccepted(high, "starve (priority 9)");
  RequireAccepted(low, "starve (priority 0)");
  const std::optional<double> bound_ms = AgingBoundMs(options.scheduler_args, capacity);
  // The priority-9 backlog the load left keeps the workers busy: the
  // priority-0 tasks enqueued last still wait under contention. Give them
  // their bound (or 10 s without one) to start; one still waiting counts
  // as waiting until it is read (the p99 is then a lower bound).
  const double give_up = UnixNow() + (options.smoke ? 1 : bound_ms ? *bound_ms / 1000 * 1.5 : 10);
  while (UnixNow() < give_up) {
    const TaskDb::Wait w = run.db.WaitOf(run.setup.queue, "", 0, t0, t1);
    if (w.started == w.count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const TaskDb::Wait w0 = run.db.WaitOf(run.setup.queue, "", 0, t0, t1);
  const TaskDb::Wait w9 = run.db.WaitOf(run.setup.queue, "", 9, t0, t1);
  const std::string cpu_note = cpu.Note();
  run.fleet.Stop();  // the backlog left goes with the database

  Result r;
  r.kind = Result::Kind::kStarve;
  if (high.achieved + low.achieved < capacity.tasks_per_s) {
    r.notes.push_back(NotOverloaded(high.achieved + low.achieved, capacity));
  }
  r.label = "starvation: priority 0 under priority 9 at " + Fmt("%.1f", options.overload) +
            "× capacity (priority aging: " + aging + ")";
  r.tasks_per_s = high.achieved + low.achieved;
  const int64_t waiting = w0.count - w0.started;
  const std::string bound =
      bound_ms ? "bound " + Fmt("%.1f", *bound_ms / 1000) + " s (9 × aging + one window at the capacity)"
               : "no bound (no aging)";
  if (static_cast<double>(waiting) > 0.01 * static_cast<double>(w0.count)) {
    r.figure = "p99 > " + Fmt("%.1f", w0.p99_ms / 1000) + " s: " + Thousands(static_cast<double>(waiting)) +
               " of " + Thousands(static_cast<double>(w0.count)) + " priority-0 tasks had not started";
  } else {
    r.figure = "p99 " + Fmt("%.1f", w0.p99_ms / 1000) + " s";
  }
  r.figure += ", " + bound;
  r.goal = "priority 0's p99 wait within the bound the aging setting gives";
  if (high.achieved + low.achieved >= capacity.tasks_per_s)  // else not judged
    r.goal_met = bound_ms && waiting == 0 && w0.p99_ms <= *bound_ms;
  r.notes.push_back("priority 0: " + r.figure + " (aging: " + aging + ")");
  r.notes.push_back(WaitNote("priority 0: ", w0) + ", " + Thousands(static_cast<double>(w0.started)) +
                    " started");
  r.notes.push_back(WaitNote("priority 9: ", w9) + ", " + Thousands(static_cast<double>(w9.started)) +
                    " started");
  r.notes.push_back(capacity.note);
  r.notes.push_back(LoadNote("priority 9: ", high));
  r.notes.push_back(LoadNote("priority 0: ", low));
  r.notes.push_back(cpu_note);
  return r;
}

std::vector<Result> RunPlot(const Options& options, const std::string& log_dir) {
  std::vector<std::pair<int, std::optional<double>>> fila;  // none: no task in the measured span
  std::vector<double> fila_accepted, celery_sent;  // what got in, per rate
  std::vector<std::pair<int, std::optional<double>>> celery;
  std::string fila_points, celery_points;
  for (int rate : options.plot_rates) {
    const E2e e = RunE2eAt(options, rate, options.plot_seconds, log_dir);
    const bool measured = e.wait.count > 0;  // none when the run is no longer than its warm-up
    fila.emplace_back(rate, measured ? std::optional<double>(e.wait.p99_ms) : std::nullopt);
    fila_accepted.push_back(e.load.achieved);
    fila_points += (fila_points.empty() ? "" : ", ") + Thousands(rate) + "/s: " +
                   (measured ? Fmt("%.1f", e.wait.p99_ms) + " ms" : "no task measured") +
                   (e.load.refused > 0 ? " (429 ×" + std::to_string(e.load.refused) + ")" : "");
  }
  if (!options.skip_celery) {
    for (int rate : options.plot_rates) {
      std::optional<double> p99;
      try {
        const CelerySteady c = RunCelerySteady(options, rate, options.plot_seconds, log_dir);
        p99 = c.p99_ms;
        celery_sent.push_back(c.achieved);
        celery_points += (celery_points.empty() ? "" : ", ") + Thousands(rate) +
                         "/s: " + Fmt("%.1f", c.p99_ms) + " ms (" + Thousands(c.achieved) + "/s sent)";
      } catch (const BenchError& e) {
        celery_points += (celery_points.empty() ? "" : ", ") + Thousands(rate) + "/s: failed";
        celery_sent.push_back(std::nan(""));
        Say(std::string("plot: Celery at ") + std::to_string(rate) + "/s: " + e.what());
      }
      celery.emplace_back(rate, p99);
    }
  }
  if (!options.plot_data.empty()) {
    std::ofstream out(options.plot_data);
    out << "# offered tasks/s; p99 enqueue->start ms: fila, Celery (pg backend); tasks/s that got in:"
           " fila (HTTP 2xx), Celery (sent); NaN: no figure\n";
    for (size_t i = 0; i < fila.size(); ++i) {
      auto figure = [&out](const std::optional<double>& ms) {
        if (ms) {
          out << *ms;
        } else {
          out << "NaN";
        }
      };
      out << fila[i].first << " ";
      figure(fila[i].second);
      out << " ";
      figure(i < celery.size() ? celery[i].second : std::nullopt);
      const double sent = i < celery_sent.size() ? celery_sent[i] : std::nan("");
      out << " " << fila_accepted[i] << " ";
      if (std::isnan(sent)) {
        out << "NaN";
      } else {
        out << sent;
      }
      out << "\n";
    }
    if (!out) throw BenchError("cannot write " + options.plot_data);
    Say("plot: data in " + options.plot_data);
  }
  // A row of the table: its points as figure and first note.
  auto row = [&](const std::string& label, const std::string& points, const std::string& how) {
    Result r;
    r.kind = Result::Kind::kPlot;
    r.label = label;
    r.tasks_per_s = fila.empty() ? 0 : fila.back().first;
    r.figure = points;
    r.notes = {points, how};
    return r;
  };
  std::vector<Result> rows{
      row("plot: fila p99 enqueue→start by offered rate (HTTP, one task per request)", fila_points,
          Fmt("%g", options.plot_seconds) + " s per rate; database timestamps")};
  if (!options.skip_celery) {
    rows.push_back(row("plot: Celery (pg backend) p99 enqueue→start by offered rate", celery_points,
                       "celery_bench.py --rate: 4 producer processes, prefork " +
                           std::to_string(options.workers) +
                           ", from the producer's clock before apply_async to the task's start "
                           "(task_prerun)"));
  }
  return rows;
}

}  // namespace fila::bench
