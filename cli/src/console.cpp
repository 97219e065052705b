// The console's commands, over the HTTP API only (its routes hold the
// rules: operators only, the audit log, the bulk runner): fila bulk
// retry|cancel|delete|list|get, fila audit, fila workers drain, fila
// schedules run.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "api_client.h"
#include "commands.h"
#include "fila/core/errors.h"
#include "fila/http/url.h"
#include "fila/v1/api.pb.h"
#include "fila/v1/console.pb.h"
#include "fila/v1/task.pb.h"
#include "guard.h"

namespace fila::cli {
namespace {

// The reply when its status is one of `ok`, else the API's error (thrown).
ApiClient::Reply Keep(ApiClient::Reply reply, std::initializer_list<long> ok) {
  ApiClient::Expect(reply, ok);
  return reply;
}

void PrintJson(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::cout << (j.is_discarded() ? body : Dump(j)) << "\n";
}

std::string Counts(const v1::BulkJob& j) {
  return "done=" + std::to_string(j.done()) + " skipped=" + std::to_string(j.skipped()) +
         " failed=" + std::to_string(j.failed()) + " of " + std::to_string(j.total());
}

std::string JobRow(const v1::BulkJob& j) {
  std::string row = j.id() + "  " + j.action() + "  " + j.state() + "  " + Counts(j);
  if (!j.name().empty()) row += "  \"" + j.name() + "\"";
  if (!j.error().empty()) row += "  error: " + j.error();
  return row;
}

v1::TaskFilter FilterOf(const ConsoleArgs& a) {
  v1::TaskFilter f;
  f.set_state(a.state);
  f.set_type(a.type);
  f.set_queue(a.queue);
  f.set_tenant(a.tenant);
  if (a.priority) f.set_priority(static_cast<uint32_t>(*a.priority));
  f.set_created_after(a.created_after);
  f.set_created_before(a.created_before);
  f.set_where(a.where);
  return f;
}

int BulkCreate(const ApiClient& api, const std::string& action, const ConsoleArgs& a) {
  v1::BulkRequest request;
  request.set_action(action);
  *request.mutable_filter() = FilterOf(a);
  request.set_dry_run(a.dry_run);
  request.set_name(a.name);
  const ApiClient::Reply reply = Keep(api.Call("POST", "/v1/bulk", ApiClient::Json(request)), {200, 202});
  if (a.dry_run) {
    v1::BulkCount count;
    ApiClient::Parse(reply, count);
    if (a.json) {
      PrintJson(reply.body);
    } else {
      std::cout << count.count() << " tasks match; " << action << " them without --dry-run\n";
    }
    return kOk;
  }
  v1::BulkJob job;
  ApiClient::Parse(reply, job);
  if (!a.wait) {
    if (a.json) {
      PrintJson(reply.body);
    } else {
      std::cout << JobRow(job) << "\n";
    }
    return kOk;
  }
  // --wait: follow the job's progress until it ends.
  std::string last;
  while (job.state() == "running") {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const ApiClient::Reply r = Keep(api.Call("GET", "/v1/bulk/" + EscapeUrlPart(job.id())), {200});
    ApiClient::Parse(r, job);
    last = r.body;
    if (!a.json) std::cerr << job.id() << ": " << Counts(job) << "\n";
  }
  if (a.json) {
    PrintJson(last.empty() ? reply.body : last);
  } else {
    std::cout << JobRow(job) << "\n";
  }
  return job.state() == "done" ? kOk : kFailure;
}

}  // namespace

int Console(const std::string& api_url, const std::string& token, const std::string& command,
            const ConsoleArgs& a) {
  if (api_url.empty() || token.empty()) {
    spdlog::error("error: fila {} goes through the API (its rules and audit log): set --api and --token "
                  "(or FILA_API_URL and FILA_API_TOKEN)",
                  command);
    return kUsage;
  }
  ApiClient api(api_url, token);
  return Guard(api_url, [&]() -> int {
    if (command == "bulk") {
      if (a.action == "list") {
        const ApiClient::Reply reply = Keep(api.Call("GET", "/v1/bulk"), {200});
        if (a.json) {
          PrintJson(reply.body);
          return kOk;
        }
        v1::ListBulkJobsResponse jobs;
        ApiClient::Parse(reply, jobs);
        for (const auto& j : jobs.jobs()) std::cout << JobRow(j) << "\n";
        if (jobs.jobs().empty()) std::cout << "(no bulk jobs)\n";
        return kOk;
      }
      if (a.action == "get") {
        const ApiClient::Reply reply = Keep(api.Call("GET", "/v1/bulk/" + EscapeUrlPart(a.id)), {200});
        if (a.json) {
          PrintJson(reply.body);
          return kOk;
        }
        v1::BulkJob job;
        ApiClient::Parse(reply, job);
        std::cout << JobRow(job) << "\n";
        return kOk;
      }
      return BulkCreate(api, a.action, a);
    }
    if (command == "audit") {
      std::string path = "/v1/audit?limit=" + std::to_string(a.limit);
      if (!a.id.empty()) path += "&cursor=" + EscapeUrlPart(a.id);
      const ApiClient::Reply reply = Keep(api.Call("GET", path), {200});
      if (a.json) {
        PrintJson(reply.body);
        return kOk;
      }
      v1::ListAuditResponse audit;
      ApiClient::Parse(reply, audit);
      for (const auto& e : audit.entries()) {
        std::string at = google::protobuf::util::TimeUtil::ToString(e.at());
        std::string row = at + "  " + e.who() + " (" + e.role() + ")  " + e.action() + "  " + e.target();
        if (e.count() > 0) row += "  count=" + std::to_string(e.count());
        if (e.has_filter()) row += "  filter=" + ApiClient::Json(e.filter());
        std::cout << row << "\n";
      }
      if (!audit.next_cursor().empty()) std::cout << "(more: --cursor " << audit.next_cursor() << ")\n";
      return kOk;
    }
    if (command == "workers drain") {
      const ApiClient::Reply reply = Keep(api.Call("POST", "/v1/workers/" + EscapeUrlPart(a.id) + ":drain"), {200});
      if (a.json) {
        PrintJson(reply.body);
      } else {
        std::cout << a.id << ": draining (takes no new task; the running ones finish)\n";
      }
      return kOk;
    }
    if (command == "schedules run") {
      const ApiClient::Reply reply = Keep(api.Call("POST", "/v1/schedules/" + EscapeUrlPart(a.id) + ":run"), {200, 201});
      v1::Task task;
      ApiClient::Parse(reply, task);
      if (a.json) {
        PrintJson(reply.body);
      } else {
        std::cout << task.id() << "\n";
      }
      return kOk;
    }
    spdlog::error("error: unknown command {}", command);
    return kUsage;
  });
}

}  // namespace fila::cli
