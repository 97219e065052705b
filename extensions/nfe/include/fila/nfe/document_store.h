#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fila::nfe {

// One stored NF-e document, as recorded by nfe.download.
struct DocumentRow {
  std::string task_id;  // the task that stored it last (its tenant is the row's tenant)
  std::string account;
  std::string doc_key;  // 44-digit access key, or "omie:<id>" when there is none
  std::string period;   // YYYY-MM
  std::string omie_id;
  std::string kind;     // KindName() of the verification
  std::string path;     // relative to the NF-e root
  std::string sha256;   // hex of the bytes as received
  int64_t size_bytes = 0;
  bool valid = false;
  std::vector<std::string> failed_checks;
};

// Where nfe.download records its documents. Upsert is keyed by (tenant,
// account, doc_key): re-running a period updates rows, never duplicates
// them. Implementations are thread-safe; they throw TransientError when the
// database is unreachable.
class DocumentStore {
 public:
  virtual ~DocumentStore() = default;
  virtual void Upsert(const DocumentRow& row) = 0;
};

}  // namespace fila::nfe
