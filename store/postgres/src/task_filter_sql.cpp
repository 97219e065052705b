#include "task_filter_sql.h"

#include <algorithm>

#include "fila/core/task_filter.h"
#include "fila/core/uuid.h"
#include "pg_support.h"

namespace fila::pg {

std::string FilterSql::Add(std::string value) {
  params.push_back(std::move(value));
  return "$" + std::to_string(params.size());
}

FilterSql BuildFilter(const ListFilter& f, const std::vector<TaskState>& default_states) {
  FilterSql out;
  std::vector<std::string> conditions;
  std::vector<std::string> states;
  if (f.state) states.emplace_back(ToString(*f.state));
  for (auto s : f.states) {
    if (std::find(states.begin(), states.end(), ToString(s)) == states.end()) states.emplace_back(ToString(s));
  }
  if (states.empty()) {
    for (auto s : default_states) states.emplace_back(ToString(s));
  }
  if (states.size() == 1) {
    conditions.push_back("t.state = " + out.Add(states[0]));
  } else if (!states.empty()) {
    conditions.push_back("t.state = ANY(" + out.Add(ArrayLiteral(states)) + "::text[])");
  }
  if (!f.type.empty()) conditions.push_back("t.type = " + out.Add(ValidUtf8(f.type)));
  if (!f.queue.empty()) conditions.push_back("t.queue = " + out.Add(ValidUtf8(f.queue)));
  if (!f.tenant.empty()) conditions.push_back("t.tenant = " + out.Add(ValidUtf8(f.tenant)));
  if (f.priority) conditions.push_back("t.priority = " + out.Add(std::to_string(*f.priority)) + "::smallint");
  if (f.created_after_ms > 0) {
    conditions.push_back("t.created_at >= timestamptz 'epoch' + " + out.Add(std::to_string(f.created_after_ms)) +
                         "::bigint * interval '1 millisecond'");
  }
  if (f.created_before_ms > 0) {
    conditions.push_back("t.created_at < timestamptz 'epoch' + " + out.Add(std::to_string(f.created_before_ms)) +
                         "::bigint * interval '1 millisecond'");
  }
  if (f.where) {
    // Containment, so that the GIN index tasks_args answers it.
    const std::string doc = out.Add(ValidUtf8(ContainmentJson(*f.where))) + "::jsonb";
    conditions.push_back(f.where->equal ? "(t.args IS NOT NULL AND t.args @> " + doc + ")"
                                        : "NOT coalesce(t.args @> " + doc + ", false)");
  }
  if (f.before_created_at_us > 0 && IsUuid(f.before_id)) {
    conditions.push_back("(t.created_at, t.id) < (timestamptz 'epoch' + " +
                         out.Add(std::to_string(f.before_created_at_us)) +
                         "::bigint * interval '1 microsecond', " + out.Add(f.before_id) + "::uuid)");
  }
  for (size_t i = 0; i < conditions.size(); ++i) out.where = (i == 0 ? "" : out.where + " AND ") + conditions[i];
  return out;
}

}  // namespace fila::pg
