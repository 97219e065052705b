#pragma once

// Lawyer registrations at the Ordem dos Advogados do Brasil, as written in
// gazettes: "OAB/RO 1234", "OAB/RO 6.387", "OAB-RO 34-A", "OAB/SP 62263B",
// "OAB/RO nº 1234", "OAB 1234/RO". Pure; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fila::diario {

struct OabNumber {
  std::string state;   // two-letter state (UF), upper case, a real one
  std::string number;  // digits only, thousands dots removed, no leading zeros
  std::string suffix;  // "" or one upper-case letter (supplementary registrations: 34-A)
  // "RO 1234" or "RO 34A".
  std::string Formatted() const;
  bool operator==(const OabNumber&) const = default;
};

// Parses one registration written alone ("OAB/RO 1234", "RO 1234",
// "1234/RO"). nullopt when it is not one (unknown state, no digits).
std::optional<OabNumber> ParseOab(std::string_view text);

// Every "OAB ..." registration in `text`, in order.
std::vector<OabNumber> FindOabNumbers(std::string_view text);

struct OabMention {
  OabNumber oab;
  size_t offset = 0;  // first byte of the mention ("OAB", or the state after a dash)
  size_t length = 0;
};

// Registrations in a list of lawyers, where gazettes also write them
// without "OAB" after a dash: "NAME – RO 9946", "NAME - SP496709",
// "NAME, OAB nº RO9121A", "NAME (OAB/RO 12.814)". In order; linear.
std::vector<OabMention> FindOabMentions(std::string_view text);

// True for the 27 Brazilian state codes.
bool IsBrazilianState(std::string_view uf);

}  // namespace fila::diario
