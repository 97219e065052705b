#include "fila/codec/tenants.h"

namespace fila::codec {

v1::Tenant ToProto(const TenantSettings& t) {
  v1::Tenant out;
  out.set_name(t.name);
  out.set_exists(t.exists);
  for (const auto& [kind, values] : t.bindings) {
    for (const auto& value : values) {
      auto* b = out.add_bindings();
      b->set_kind(kind);
      b->set_value(value);
    }
  }
  if (t.max_waiting) out.set_max_waiting(*t.max_waiting);
  if (t.max_schedules) out.set_max_schedules(*t.max_schedules);
  if (t.min_cron_interval_s) out.set_min_cron_interval_seconds(*t.min_cron_interval_s);
  if (t.weight) out.set_weight(*t.weight);
  return out;
}

TenantSettings FromProto(const v1::Tenant& m) {
  TenantSettings t;
  t.name = m.name();
  t.exists = m.exists();
  for (const auto& b : m.bindings()) t.bindings[b.kind()].push_back(b.value());
  if (m.has_max_waiting()) t.max_waiting = m.max_waiting();
  if (m.has_max_schedules()) t.max_schedules = m.max_schedules();
  if (m.has_min_cron_interval_seconds()) t.min_cron_interval_s = m.min_cron_interval_seconds();
  if (m.has_weight()) t.weight = m.weight();
  return t;
}

}  // namespace fila::codec
