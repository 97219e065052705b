#include "fila/codec/console.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <limits>

#include "fila/core/errors.h"
#include "fila/core/task_filter.h"
#include "fila/core/time_text.h"
#include "time_support.h"

namespace fila::codec {
namespace {

// Counts are int32 in the messages (JSON numbers); saturated, never wrapped.
int32_t Count(int64_t n) {
  return static_cast<int32_t>(std::clamp<int64_t>(n, 0, std::numeric_limits<int32_t>::max()));
}

}  // namespace

ListFilter ToListFilter(const v1::TaskFilter& m) {
  ListFilter f;
  std::string_view states = m.state();
  while (!states.empty()) {
    const auto comma = states.find(',');
    std::string_view one = states.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (!one.empty()) {
      auto s = ParseTaskState(one);
      if (!s) throw PermanentError("unknown state '" + std::string(one.substr(0, 32)) + "'", "state");
      if (f.states.size() >= 8) throw PermanentError("too many states", "state");
      f.states.push_back(*s);
    }
    states = comma == std::string_view::npos ? std::string_view() : states.substr(comma + 1);
  }
  if (f.states.size() == 1) {
    f.state = f.states.front();
    f.states.clear();
  }
  f.type = m.type();
  f.queue = m.queue();
  f.tenant = m.tenant();
  if (m.has_priority()) {
    if (m.priority() > 9) throw PermanentError("priority must be 0 to 9", "priority");
    f.priority = m.priority();
  }
  if (!m.created_after().empty()) f.created_after_ms = ParseTimestamp(m.created_after(), "created_after");
  if (!m.created_before().empty()) f.created_before_ms = ParseTimestamp(m.created_before(), "created_before");
  if (!m.where().empty()) f.where = ParseWhere(m.where());
  return f;
}

std::string FilterJson(const v1::TaskFilter& filter) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(filter, &json, options);
  return json;
}

v1::TaskFilter FilterFromJson(const std::string& json) {
  v1::TaskFilter filter;
  if (json.empty()) return filter;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(json, &filter, options);  // written by FilterJson
  return filter;
}

v1::ErrorGroup ToProto(const ErrorGroup& g) {
  v1::ErrorGroup p;
  p.set_error(g.error);
  p.set_count(Count(g.count));
  p.set_sample_task_id(g.sample_task_id);
  SetTime(g.last_at_ms, [&] { return p.mutable_last_at(); });
  return p;
}

v1::BulkJob ToProto(const BulkJob& j) {
  v1::BulkJob p;
  p.set_id(j.id);
  p.set_name(j.name);
  p.set_action(std::string(ToString(j.action)));
  *p.mutable_filter() = FilterFromJson(j.filter_json);
  p.set_state(j.state);
  p.set_total(Count(j.total));
  p.set_done(Count(j.done));
  p.set_skipped(Count(j.skipped));
  p.set_failed(Count(j.failed));
  p.set_error(j.error);
  p.set_created_by(j.created_by);
  SetTime(j.created_at_ms, [&] { return p.mutable_created_at(); });
  SetTime(j.finished_at_ms, [&] { return p.mutable_finished_at(); });
  return p;
}

v1::AuditEntry ToProto(const AuditEntry& e) {
  v1::AuditEntry p;
  SetTime(e.at_ms, [&] { return p.mutable_at(); });
  p.set_who(e.who);
  p.set_role(e.role);
  p.set_tenant(e.tenant);
  p.set_action(e.action);
  p.set_target(e.target);
  if (!e.filter.empty()) *p.mutable_filter() = FilterFromJson(e.filter);
  p.set_count(Count(e.count));
  return p;
}

v1::StatsPoint ToProto(const StatsPoint& s) {
  v1::StatsPoint p;
  p.set_queue(s.queue);
  p.set_type(s.type);
  SetTime(s.bucket_start_ms, [&] { return p.mutable_bucket_start(); });
  p.set_finished(Count(s.finished));
  p.set_failed(Count(s.failed));
  p.set_wait_p50_ms(s.wait_p50_ms);
  p.set_wait_p95_ms(s.wait_p95_ms);
  p.set_run_p50_ms(s.run_p50_ms);
  p.set_run_p95_ms(s.run_p95_ms);
  return p;
}

v1::QueueBacklog ToProto(const QueueBacklog& b) {
  v1::QueueBacklog p;
  p.set_queue(b.queue);
  p.set_backlog(Count(b.backlog));
  p.set_oldest_age_s(b.oldest_age_s);
  return p;
}

}  // namespace fila::codec
