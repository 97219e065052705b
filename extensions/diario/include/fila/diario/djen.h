#pragma once

// DJEN (Diário de Justiça Eletrônico Nacional): the national API of the
// publications of every tribunal (comunicaapi.pje.jus.br). One query is a
// tribunal's publications of one day, a page at a time; each publication
// is one docket entry for the extractor (ExtractOptions::page_is_publication).
// Pure; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fila/diario/extractor.h"

namespace fila::diario {

struct DjenPublication {
  int64_t id = 0;
  std::string process_number;  // numero_processo as given (digits, or formatted)
  std::string tribunal;        // siglaTribunal
  std::string date;            // data_disponibilizacao
  std::string text;            // texto, as plain text (PublicationText)
};

struct DjenPage {
  int64_t count = -1;  // the answer's "count" (all pages), -1 when absent
  std::vector<DjenPublication> items;
};

// The tribunal's code as DJEN spells it ("tjsp" -> "TJSP"): 2 to 12
// letters and digits. PermanentError (field "tribunal") otherwise, so a
// payload can never add a parameter or a path to the query.
std::string DjenTribunalCode(std::string_view tribunal);

// `base` (the operator's, e.g. https://comunicaapi.pje.jus.br/api/v1/comunicacao)
// with the query of a tribunal's publications of `date` (YYYY-MM-DD),
// page `page` (from 1) of `per_page` items.
std::string DjenQueryUrl(const std::string& base, const std::string& tribunal_code, const std::string& date,
                         int page, int per_page);

// One answer's JSON: {"status", "count", "items": [{"id", "texto",
// "numero_processo", "siglaTribunal", "data_disponibilizacao", ...}]}.
// Throws TransientError naming what is wrong ("not JSON", "no items
// array", ...) and never quoting the body: an answer that is not this
// shape is a block page, a maintenance page or a cut-off transfer.
// Nesting deeper than 64 levels is refused before parsing.
DjenPage ParseDjenAnswer(std::string_view body);

// A publication's `texto` as lines, through libxml2's HTML parser: <br>,
// </p>, </div>, </tr>, </li> and "\r" become line breaks, other tags are
// dropped, entities decoded (&nbsp; as a space).
std::string PublicationText(std::string_view texto);

// The publications as pages for ExtractDecisions: page i + 1 is
// publication i, text cut at a form feed so no publication runs into the
// next.
std::vector<PageText> PublicationPages(const std::vector<DjenPublication>& publications);

}  // namespace fila::diario
