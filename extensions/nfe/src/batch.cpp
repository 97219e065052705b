#include "batch.h"

#include <algorithm>

#include "file_store.h"

namespace fila::nfe {
namespace {

using nlohmann::json;

json Ref(const InvoiceRef& ref) {
  json j = {{"omie_id", ref.omie_id}, {"key", ref.key}};
  if (!ref.status.empty()) j["erp_status"] = ref.status;
  return j;
}

}  // namespace

Batch Summarise(const BatchNames& names, const std::vector<InvoiceRef>& refs,
                const std::vector<Outcome>& outcomes) {
  Batch b;
  json& report = b.report;
  report = {{"account", names.account}, {"period", names.period}, {"listing", names.listing},
            {"listed", refs.size()}};
  json invalid = json::array(), empty = json::array(), missing = json::array(), manifest_docs = json::array();
  int64_t downloaded = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (o.state == Outcome::State::kMissing) {
      json m = Ref(refs[i]);
      m["reason"] = o.reason;
      missing.push_back(m);
      continue;
    }
    ++downloaded;
    if (o.state == Outcome::State::kEmpty) {
      empty.push_back(Ref(refs[i]));
      continue;
    }
    const Verification& v = o.verification;
    if (v.Valid()) {
      ++b.valid;
    } else {
      json bad = Ref(refs[i]);
      bad["kind"] = KindName(v.kind);
      bad["reasons"] = v.failed;
      if (!v.detail.empty()) bad["detail"] = v.detail;
      bad["file"] = o.stored.zip_name;
      invalid.push_back(bad);
    }
    b.entries.push_back({o.stored.zip_name, names.root + "/" + o.stored.relative_path});
    manifest_docs.push_back({{"file", o.stored.zip_name}, {"doc_key", o.stored.doc_key},
                             {"omie_id", refs[i].omie_id}, {"kind", KindName(v.kind)},
                             {"environment", v.environment}, {"sha256", o.stored.sha256},
                             {"size", o.stored.size}, {"valid", v.Valid()}, {"failed_checks", v.failed}});
  }
  b.invalid = invalid.size();
  b.missing = missing.size();
  report["erp_cancelled"] =
      std::count_if(refs.begin(), refs.end(), [](const InvoiceRef& r) { return r.status == "cancelled"; });
  report["downloaded"] = downloaded;
  report["valid"] = b.valid;
  report["invalid_count"] = invalid.size();
  report["invalid"] = invalid;
  report["empty_count"] = empty.size();
  report["empty"] = empty;
  report["missing_count"] = missing.size();
  report["missing"] = missing;
  b.manifest = {{"account", names.account}, {"period", names.period}, {"task_id", names.task_id},
                {"documents", manifest_docs},
                {"summary", {{"listed", refs.size()}, {"downloaded", downloaded}, {"valid", b.valid},
                             {"invalid", invalid.size()}, {"empty", empty.size()}, {"missing", missing.size()}}}};
  return b;
}

void WriteBatchZip(Batch& batch, const std::string& root, const std::string& zip_relative) {
  const std::string zip_path = root + "/" + zip_relative;
  WriteZip(zip_path, batch.entries, batch.manifest.dump(2));
  const std::string zip_bytes = ReadFile(zip_path);
  batch.report["zip"] = {{"path", zip_relative}, {"entries", batch.entries.size() + 1},
                         {"sha256", Sha256Hex(zip_bytes)}, {"size", zip_bytes.size()}};
}

}  // namespace fila::nfe
