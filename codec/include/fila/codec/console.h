#pragma once

// The console's messages (fila/v1/console.proto), both ways. Stateless.

#include <string>

#include "fila/core/console_store.h"
#include "fila/core/store_types.h"
#include "fila/v1/console.pb.h"

namespace fila::codec {

// The one reading of a task filter, for GET /v1/tasks, /v1/tasks:errors and
// POST /v1/bulk: states (comma-separated), priority 0-9, RFC 3339 times,
// `where` (ParseWhere). Tenant as given: scoping is the caller's. Throws
// PermanentError naming the field.
ListFilter ToListFilter(const v1::TaskFilter& filter);
// The filter as stored with a bulk job or an audit entry (JSON text), and back.
std::string FilterJson(const v1::TaskFilter& filter);
v1::TaskFilter FilterFromJson(const std::string& json);

v1::ErrorGroup ToProto(const ErrorGroup& group);
v1::BulkJob ToProto(const BulkJob& job);
v1::AuditEntry ToProto(const AuditEntry& entry);
v1::StatsPoint ToProto(const StatsPoint& point);
v1::QueueBacklog ToProto(const QueueBacklog& backlog);

}  // namespace fila::codec
