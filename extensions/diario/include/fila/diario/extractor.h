#pragma once

// Rule-based extraction of judicial decisions from the text of a gazette.
// Pure (no I/O); thread-safe; always runs, whether or not an LLM step
// follows.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/diario/oab.h"
#include "fila/diario/outcome.h"

namespace fila::diario {

struct PageText {
  int number = 0;  // 1-based page of the PDF
  std::string text;
};

struct Party {
  std::string role;  // as printed: "Apelante", "Agravado", "Interessado(a)"
  std::string name;
};

struct Lawyer {
  std::string name;
  std::string kind;  // "advogado", "procurador" or "defensor"
  std::optional<OabNumber> oab;
  int party = -1;  // index into Decision::parties of the party represented, -1 none
};

// One docket entry: a process with its class, parties and lawyers, and the
// judgment when the entry records one (session minutes do; agendas don't).
struct Decision {
  int seq = 0;                 // order in the gazette, from 0
  std::string process_number;  // NNNNNNN-DD.AAAA.J.TR.OOOO
  bool number_valid = false;   // check digits verified
  std::string process_class;   // "Apelação", "Agravo de Instrumento", ...
  int page = 0;                // page of the PDF where the entry starts
  std::string origin;          // the "Origem:" line
  std::string origin_number;   // first CNJ number of the origin, if any
  std::vector<Party> parties;
  std::vector<Lawyer> lawyers;
  std::string rapporteur;      // "Relator:" as printed
  // "Relator p/ acórdão" / "Relator do acórdão": who wrote the judgment,
  // when the entry names one apart from the rapporteur.
  std::string judgment_rapporteur;
  std::string decision_text;   // without the quotes; "" when none
  bool partial = false;        // "Decisão Parcial": the judgment is not finished
  Outcome outcome = Outcome::kUnknown;
  std::string block;           // the entry's lines, for the LLM step
  bool HasDecision() const { return !decision_text.empty(); }
};

struct FoundNumber {
  std::string number;  // formatted
  int page = 0;        // first page it occurs on
  int occurrences = 0;
};

struct Extraction {
  std::vector<Decision> decisions;
  std::vector<FoundNumber> numbers;          // distinct valid numbers, in order of appearance
  std::vector<FoundNumber> invalid_numbers;  // CNJ-shaped, check digits wrong: never used as valid
  int occurrences = 0;                       // CNJ-shaped occurrences in the text
};

struct ExtractOptions {
  // Lines that belong to the page furniture (running headers, footers,
  // page numbers): dropped before parsing, so entries run across pages.
  std::function<bool(std::string_view line)> is_boilerplate;
  // Each page is one publication (DJEN): it is one entry, about the first
  // valid CNJ number on it, and no entry runs into the next page.
  bool page_is_publication = false;
};

// Pages of a plain text: split on form feeds ('\f'), numbered from 1; one
// page when there is none.
std::vector<PageText> SplitPages(std::string_view text);

Extraction ExtractDecisions(const std::vector<PageText>& pages, const ExtractOptions& options = {});

}  // namespace fila::diario
