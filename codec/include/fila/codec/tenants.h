#pragma once

// What operators allow a tenant (fila.v1.Tenant), both ways. Stateless.

#include "fila/core/tenant.h"
#include "fila/v1/api.pb.h"

namespace fila::codec {

v1::Tenant ToProto(const TenantSettings& tenant);
// Bindings come back grouped by kind, in the message's order.
TenantSettings FromProto(const v1::Tenant& tenant);

}  // namespace fila::codec
