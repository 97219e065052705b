#pragma once

#include <prometheus/registry.h>

#include <memory>

#include "fila/core/extension_metrics.h"

namespace fila::prom {

// The extensions' MetricRegistry over `registry` (which must outlive it).
std::unique_ptr<MetricRegistry> NewExtensionMetrics(prometheus::Registry& registry);

}  // namespace fila::prom
