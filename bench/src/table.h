#pragma once

#include <ostream>
#include <vector>

#include "options.h"
#include "result.h"

namespace fila::bench {

// One Markdown table of every result, then the targets checked
// against whatever figures this run produced.
void PrintReport(const std::vector<Result>& results, const Options& options, std::ostream& out);

}  // namespace fila::bench
