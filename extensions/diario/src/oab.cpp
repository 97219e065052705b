#include "fila/diario/oab.h"

#include <array>
#include <cctype>

#include "fila/diario/text.h"

namespace fila::diario {
namespace {

bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsSep(char c) { return c == ' ' || c == '/' || c == '-' || c == ':' || c == '\n' || c == '\t'; }

void SkipSeps(std::string_view s, size_t& pos) {
  while (pos < s.size() && IsSep(s[pos])) ++pos;
}

// "nº", "n.", "n°", "no", "n" before the number.
void SkipNumberWord(std::string_view s, size_t& pos) {
  size_t p = pos;
  if (p < s.size() && (s[p] == 'n' || s[p] == 'N')) {
    ++p;
    if (s.substr(p, 2) == "\xC2\xBA" || s.substr(p, 2) == "\xC2\xB0") p += 2;
    else if (p < s.size() && (s[p] == '.' || s[p] == 'o' || s[p] == 'O')) ++p;
    if (p < s.size() && s[p] == '.') ++p;
    // Only a number word when a number follows.
    size_t q = p;
    while (q < s.size() && s[q] == ' ') ++q;
    if (q < s.size() && IsDigit(s[q])) pos = q;
  }
}

std::optional<std::string> ReadState(std::string_view s, size_t& pos) {
  if (pos + 2 > s.size() || !IsAlpha(s[pos]) || !IsAlpha(s[pos + 1])) return std::nullopt;
  if (pos + 2 < s.size() && IsAlpha(s[pos + 2])) return std::nullopt;
  std::string uf{static_cast<char>(std::toupper(static_cast<unsigned char>(s[pos]))),
                 static_cast<char>(std::toupper(static_cast<unsigned char>(s[pos + 1])))};
  if (!IsBrazilianState(uf)) return std::nullopt;
  pos += 2;
  return uf;
}

// Digits with optional thousands dots, then an optional letter suffix
// ("34-A", "62263B", "5.236-B").
bool ReadNumber(std::string_view s, size_t& pos, OabNumber& out) {
  size_t p = pos;
  std::string digits;
  while (p < s.size()) {
    if (IsDigit(s[p])) {
      digits += s[p++];
    } else if (s[p] == '.' && !digits.empty() && p + 1 < s.size() && IsDigit(s[p + 1])) {
      ++p;
    } else {
      break;
    }
  }
  if (digits.empty() || digits.size() > 7) return false;
  std::string suffix;
  size_t q = p;
  if (q < s.size() && s[q] == '-') ++q;
  if (q < s.size() && IsAlpha(s[q]) && (q + 1 >= s.size() || !IsAlpha(s[q + 1]))) {
    // "1234/RO" has a state after a slash, not a suffix; "34-A" and "62263B" are suffixes.
    suffix = static_cast<char>(std::toupper(static_cast<unsigned char>(s[q])));
    p = q + 1;
  }
  size_t nz = digits.find_first_not_of('0');
  out.number = nz == std::string::npos ? "0" : digits.substr(nz);
  out.suffix = suffix;
  pos = p;
  return true;
}

// "nº " / "n. " before a state ("OAB nº RO9121A").
void SkipLooseNumberWord(std::string_view s, size_t& pos) {
  size_t p = pos;
  if (p < s.size() && (s[p] == 'n' || s[p] == 'N')) {
    ++p;
    if (s.substr(p, 2) == "\xC2\xBA" || s.substr(p, 2) == "\xC2\xB0") p += 2;
    else if (p < s.size() && s[p] == '.') ++p;
    else return;
    if (p < s.size() && s[p] == ' ') pos = p;
  }
}

// After "OAB": "/RO 1234", "-RO 34-A", " RO nº 1234", " nº RO1234" or " 1234/RO".
std::optional<OabNumber> ParseAfterOab(std::string_view s, size_t& pos) {
  size_t p = pos;
  SkipSeps(s, p);
  SkipLooseNumberWord(s, p);
  SkipSeps(s, p);
  OabNumber n;
  if (auto uf = ReadState(s, p)) {
    n.state = *uf;
    SkipSeps(s, p);
    SkipNumberWord(s, p);
    if (!ReadNumber(s, p, n)) return std::nullopt;
    pos = p;
    return n;
  }
  SkipNumberWord(s, p);
  if (!ReadNumber(s, p, n)) return std::nullopt;
  // A suffix letter read greedily may be the start of nothing; the state
  // follows a separator.
  size_t q = p;
  SkipSeps(s, q);
  auto uf = ReadState(s, q);
  if (!uf) return std::nullopt;
  n.state = *uf;
  pos = q;
  return n;
}

}  // namespace

std::string OabNumber::Formatted() const { return state + " " + number + suffix; }

bool IsBrazilianState(std::string_view uf) {
  static constexpr std::array<std::string_view, 27> kStates = {
      "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA",
      "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO"};
  for (auto s : kStates) {
    if (s == uf) return true;
  }
  return false;
}

std::optional<OabNumber> ParseOab(std::string_view text) {
  std::string_view s = Trim(text);
  size_t pos = 0;
  if (s.size() >= 3 && (s.substr(0, 3) == "OAB" || s.substr(0, 3) == "oab")) pos = 3;
  auto n = ParseAfterOab(s, pos);
  if (!n) return std::nullopt;
  if (Trim(s.substr(pos)).size() != 0) return std::nullopt;
  return n;
}

std::vector<OabNumber> FindOabNumbers(std::string_view text) {
  std::vector<OabNumber> out;
  size_t pos = 0;
  while ((pos = text.find("OAB", pos)) != std::string_view::npos) {
    if (pos > 0 && IsAlpha(text[pos - 1])) {
      pos += 3;
      continue;
    }
    size_t p = pos + 3;
    if (auto n = ParseAfterOab(text, p)) {
      out.push_back(std::move(*n));
      pos = p;
    } else {
      pos += 3;
    }
  }
  return out;
}

std::vector<OabMention> FindOabMentions(std::string_view text) {
  std::vector<OabMention> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t oab = text.find("OAB", pos);
    // A state after a dash ("– RO 9946", "- SP496709"), before the next "OAB".
    size_t dash = std::string_view::npos;
    for (size_t i = pos; i + 1 < text.size() && i < oab; ++i) {
      const bool hyphen = text[i] == '-';
      const bool en = text.substr(i, 3) == "\xE2\x80\x93";
      if (!hyphen && !en) continue;
      size_t p = i + (en ? 3 : 1);
      while (p < text.size() && text[p] == ' ') ++p;
      if (p == i + (en ? 3 : 1) && hyphen) continue;  // "AGRO-PRODUTIVA"
      size_t q = p;
      OabNumber n;
      if (q + 2 < text.size() && text[q] >= 'A' && text[q] <= 'Z' && text[q + 1] >= 'A' && text[q + 1] <= 'Z' &&
          !IsAlpha(text[q + 2])) {
        auto uf = ReadState(text, q);
        while (uf && q < text.size() && text[q] == ' ') ++q;
        if (uf && q < text.size() && IsDigit(text[q]) && ReadNumber(text, q, n)) {
          n.state = *uf;
          dash = p;
          out.push_back({std::move(n), p, q - p});
          pos = q;
          break;
        }
      }
    }
    if (dash != std::string_view::npos) continue;
    if (oab == std::string_view::npos) break;
    size_t p = oab + 3;
    if ((oab == 0 || !IsAlpha(text[oab - 1])) && (p >= text.size() || !IsAlpha(text[p]))) {
      if (auto n = ParseAfterOab(text, p)) {
        out.push_back({std::move(*n), oab, p - oab});
        pos = p;
        continue;
      }
    }
    pos = oab + 3;
  }
  return out;
}

}  // namespace fila::diario
