#pragma once

// Queue counts (GET /v1/queues) and the operators' live view (GET
// /v1/workers, what `fila top` shows), both ways. Stateless.

#include <vector>

#include "fila/core/monitor.h"
#include "fila/core/state_store.h"
#include "fila/v1/api.pb.h"

namespace fila::codec {

// Counts are keyed by the state's name ("queued", ...).
v1::QueueStatus ToProto(const QueueStatusView& queue);
// Counts of states this client does not know are left out; the others
// come in TaskState order.
QueueStatusView FromProto(const v1::QueueStatus& queue);
// Every (queue, state, count) of an answer, in its order.
std::vector<QueueStateCount> CountsOf(const v1::ListQueuesResponse& queues);

// Each queue's counts carry all four unfinished states.
v1::ListWorkersResponse ToProto(const MonitorSnapshot& snapshot);
MonitorSnapshot FromProto(const v1::ListWorkersResponse& snapshot);

}  // namespace fila::codec
