#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace fila::bench {

// What `fila-bench` was asked to do (main.cpp parses it).
struct Options {
  std::string database_url;  // the stack's base URL; each scenario gets a fresh database
  std::string amqp_url;
  std::string queue_type = "classic";  // FILA_QUEUE_TYPE of the daemons: classic | quorum
  int64_t tasks = 20000;  // burn-down N (and the raw broker's)
  int workers = 2;        // fila-worker processes (and Celery prefork processes)
  int concurrency = 16;   // slots per fila-worker
  int express_slots = -1;  // fila-worker --express-slots; -1: its default
  std::vector<int> rates{500, 2000};
  double steady_seconds = 20;
  double steady_warmup_seconds = 1;  // tasks created earlier are left out of the percentiles
  int producers = 4;                 // steady-state producer threads (one connection each)
  int64_t celery_tasks = 0;          // 0: same as tasks
  int64_t http_tasks = 0;            // HTTP handler vs built-in noop burn-downs; 0: tasks
  int64_t exec_tasks = 2000;         // exec burn-down (and its noop reference)
  int64_t backlog = 0;               // > 0: burn-down of this many vs of kBacklogReference
  int publish_batch = 500;           // raw broker confirm batch (fila's relay default)
  std::set<std::string> only;        // empty: every scenario
  bool skip_celery = false;
  bool skip_raw = false;
  bool smoke = false;
  std::string python = "/usr/bin/python3";  // Debian's, with python3-celery
  std::string celery_script;                // default: the source tree's bench/celery/
  std::string log_dir;                      // daemon logs; default: a temporary folder
  // Appended to every fila-scheduler's command line (e.g. "--priority-aging 5s").
  std::string scheduler_args;
  // Contention scenarios (issue 21).
  std::vector<int> http_rates{1000, 2000, 3000, 4000, 5000, 6000};  // http-enqueue steps, requests/s
  double http_seconds = 5;     // each http-enqueue step
  int http_connections = 32;   // keep-alive connections of the HTTP load
  int e2e_rate = 2000;         // e2e-single: tasks/s, one HTTP request each
  int sleep_ms = 100;          // noisy, starve: each task sleeps this long (32 slots: ≤ 320/s)
  double contention_seconds = 10;  // noisy, starve: how long the load is offered
  double overload = 1.5;           // noisy, starve: offered load ÷ measured capacity
  std::vector<int> plot_rates{250, 500, 1000, 1500, 2000};  // plot: offered tasks/s
  double plot_seconds = 10;        // plot: each rate
  std::string plot_data;           // plot: the data file written (gnuplot input)

  bool Wants(const std::string& scenario) const { return only.empty() || only.contains(scenario); }
};

// The backlog scenario compares the burn-down of Options::backlog tasks with
// the burn-down of this many.
inline constexpr int64_t kBacklogReference = 10000;

}  // namespace fila::bench
