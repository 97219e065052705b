#pragma once

// The parts of a docket entry's lines, recognised by their structure
// (ordinal, process number, "Label: value") rather than one gazette's
// wording. Internal to the extractor; pure; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/diario/extractor.h"

namespace fila::diario::fields {

enum class Field {
  kNone, kOrigin, kClass, kLawyer, kProcurador, kDefensor, kRapporteur, kJudgmentRapporteur, kIgnored, kParty
};

// "Label: value" with a short label ("" when the line has none).
std::string_view LabelOf(std::string_view line, std::string_view& value);
Field Classify(std::string_view label);

// A line that opens an entry: "03. AUTOS N. <CNJ> APELAÇÃO (PJE)",
// "01 - <CNJ>", "<CNJ> Apelação", "n. 01 <CNJ> Apelação", "02. Classe n.
// <CNJ>", "Processo <CNJ> - Classe - ...". `number` is the offset of the
// number in the line. nullopt when the line is not one.
struct Header {
  size_t number = 0;
  std::string process_class;  // "" when the line gives none
};
std::optional<Header> HeaderAt(std::string_view line, bool publication);

// The class as printed, without "(PJE)", a numeric code "(7)" or dashes.
std::string CleanClass(std::string_view text);

// Every lawyer of a value ("A – RO 1234", "A (OAB/RO 1) e B (OAB/RO 2)",
// "A, OAB nº RO1A, B, OAB nº RO2A"); none for "SEM ADVOGADO(S)".
std::vector<Lawyer> SplitLawyers(std::string_view value, std::string_view kind);

// Where a judgment starts on the line ("Decisão:", "DECISÃO PARCIAL EM
// 18/03/2025:"): its text and whether it is partial.
std::optional<std::pair<std::string_view, bool>> DecisionStart(std::string_view line);

// Splits long lines (DJEN publications often are one line) before the
// labels gazettes use, so that each field starts a line.
std::vector<std::string_view> SplitAtLabels(std::string_view line);

}  // namespace fila::diario::fields
