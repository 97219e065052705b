#pragma once

// Where diario.process keeps what it found. The handler owns this
// interface; the PostgreSQL implementation is in store/postgres
// (fila/diario_store_pg.h). Implementations are thread-safe and throw
// TransientError when the database is unreachable.

#include <cstdint>
#include <string>
#include <vector>

#include "fila/diario/extractor.h"

namespace fila::diario {

struct GazetteRecord {
  std::string task_id;     // the task that stored it (its tenant is the row's)
  std::string tribunal;    // "tjro"
  std::string date;        // YYYY-MM-DD, "" when the task named only a URL
  std::string url;
  // What names it among the tribunal's gazettes: "" means the date, or the
  // url when there is no date; "djen:<date>" for DJEN publications.
  std::string source;
  std::string sha256;      // hex of the PDF (of the texts, for DJEN)
  int64_t size_bytes = 0;
  int pages = 0;
  std::string archive_uri;  // where the PDF was archived, "" when not
  int numbers_found = 0;    // distinct valid CNJ numbers in the text
  std::vector<FoundNumber> invalid_numbers;
  bool llm_used = false;
};

class DiarioStore {
 public:
  virtual ~DiarioStore() = default;
  // Stores the gazette and replaces its decisions (with their parties and
  // lawyers) in one transaction: a retried task leaves one copy. Returns
  // the gazette's id.
  virtual int64_t SaveGazette(const GazetteRecord& gazette, const std::vector<Decision>& decisions) = 0;
  // Records that the tribunal published nothing on that date (404).
  virtual void SaveNoGazette(const GazetteRecord& gazette) = 0;
};

}  // namespace fila::diario
