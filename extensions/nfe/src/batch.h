#pragma once

// The end of nfe.download: what became of each listed invoice, summed up
// in the task's report and the zip's manifest, and the zip itself.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "stages.h"
#include "zip_batch.h"

namespace fila::nfe {

// What became of one listed invoice.
struct Outcome {
  enum class State { kPending, kStored, kEmpty, kMissing } state = State::kPending;
  Verification verification;
  StoredDocument stored;
  std::string reason;
};

struct Batch {
  nlohmann::json report;    // the task's result so far
  nlohmann::json manifest;  // goes into the zip as its manifest
  std::vector<ZipEntry> entries;
  int64_t valid = 0;
  size_t invalid = 0;
  size_t missing = 0;
};

struct BatchNames {
  std::string account;
  std::string period;   // YYYY-MM
  std::string listing;  // ListarNF / ListarDocumentos
  std::string task_id;
  std::string root;     // the tenant's folder
};

// The report and manifest of `outcomes` (one per ref, same order).
Batch Summarise(const BatchNames& names, const std::vector<InvoiceRef>& refs,
                const std::vector<Outcome>& outcomes);

// Writes the zip with the batch's documents and manifest to
// <root>/<zip_relative> and records it in the report.
void WriteBatchZip(Batch& batch, const std::string& root, const std::string& zip_relative);

}  // namespace fila::nfe
