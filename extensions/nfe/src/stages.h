#pragma once

// The stages of nfe.download, each a function of its inputs so that each
// could become a child task once handlers can enqueue them: list, fetch,
// verify + store, zip, upload, report.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fila/nfe/document_store.h"
#include "fila/nfe/verifier.h"
#include "omie_client.h"

namespace fila::nfe {

struct Period {
  int year = 0;
  int month = 0;
  std::string text;  // YYYY-MM
  std::string FirstDay() const;  // dd/mm/yyyy
  std::string LastDay() const;
};
// Parses "YYYY-MM"; PermanentError (field payload.period) otherwise.
Period ParsePeriod(const std::string& text);

struct InvoiceRef {
  std::string omie_id;  // nIdNF
  std::string key;      // access key from the listing ("" when not given)
  std::string status;   // "cancelled" when the ERP says so, else ""
  std::optional<std::string> xml;  // inline XML (ListarDocumentos)
};

struct ListingRequest {
  std::string method;  // "ListarNF" or "ListarDocumentos"
  Period period;
  uint32_t page_size = 100;
};

// Stage 1: pages through the listing up to the last page (or the
// end-of-data fault) and returns each invoice once (by Omie id).
// `progress(page, total_pages)` after each page.
std::vector<InvoiceRef> ListInvoices(OmieClient& client, const ListingRequest& request,
                                     const std::function<void(int, int)>& progress);

struct Fetched {
  std::optional<std::string> bytes;  // nullopt: missing
  std::string missing_reason;
};

// Stage 2: the XML of one invoice as received (inline, or ObterNfe).
// A request-level fault makes it missing; other failures throw.
Fetched FetchXml(OmieClient& client, const InvoiceRef& ref);

struct StoredDocument {
  std::string doc_key;
  std::string relative_path;  // under the NF-e root
  std::string zip_name;       // <CNPJ>/<YYYY-MM>/<key>.xml
  std::string sha256;
  int64_t size = 0;
};

struct StoreContext {
  std::string root;         // FILA_NFE_ROOT
  std::string destination;  // relative to root
  std::string account;
  std::string task_id;
  Period period;
  DocumentStore* store = nullptr;
  VerifyOptions verify;  // the trust bundle, when the operator set one
};

// Stage 3: writes the bytes (unchanged) atomically to
// <root>/<destination>/<CNPJ>/<YYYY-MM>/<key>.xml and upserts its row.
// Idempotent: the same bytes again leave the file as it is.
StoredDocument StoreDocument(const StoreContext& context, const InvoiceRef& ref, const std::string& bytes,
                             const Verification& verification);

}  // namespace fila::nfe
