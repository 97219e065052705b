#pragma once

// CNJ unified process numbers (Resolução CNJ 65/2008):
// NNNNNNN-DD.AAAA.J.TR.OOOO, with DD the ISO 7064 MOD 97-10 check digits.
// Pure functions, no I/O; thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fila::diario {

struct CnjNumber {
  std::string sequential;  // NNNNNNN (7 digits)
  std::string check;       // DD (2 digits)
  std::string year;        // AAAA
  std::string branch;      // J (1 digit)
  std::string court;       // TR (2 digits)
  std::string origin;      // OOOO
  // NNNNNNN-DD.AAAA.J.TR.OOOO
  std::string Formatted() const;
  // True when the check digits match the other 18 digits.
  bool Valid() const;
  bool operator==(const CnjNumber&) const = default;
};

// The two check digits for the other fields (each all digits, of the right
// length), always two characters ("01".."97").
std::string CnjCheckDigits(std::string_view sequential, std::string_view year,
                           std::string_view branch, std::string_view court,
                           std::string_view origin);

// Parses one number written alone (surrounding whitespace allowed), in the
// same lenient forms FindCnjNumbers accepts. nullopt when it is not one;
// the check digits are not judged here (see Valid()).
std::optional<CnjNumber> ParseCnj(std::string_view text);

struct CnjMatch {
  CnjNumber number;
  size_t offset = 0;  // of the first digit in the scanned text
  size_t length = 0;  // bytes up to and including the last digit
  bool valid = false;
};

// Every CNJ-shaped number in `text`, in order, valid or not. Tolerates what
// PDF text extraction does to them: a line break or spaces after the hyphen
// ("0810430-\n52.2024..."), a missing hyphen, and a missing dot between J
// and TR ("2025.822.8000"). A digit run longer than the layout (part of a
// bigger number) is not a match.
std::vector<CnjMatch> FindCnjNumbers(std::string_view text);

}  // namespace fila::diario
