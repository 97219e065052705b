#include "fila/diario/cnj.h"

#include <cctype>

#include "fila/diario/text.h"

namespace fila::diario {
namespace {

// Horner evaluation mod 97: the 20-digit number does not fit in 64 bits.
int Mod97(std::string_view digits, int r = 0) {
  for (char c : digits) r = (r * 10 + (c - '0')) % 97;
  return r;
}

// Reads exactly `n` digits at `pos`; advances pos on success.
bool Digits(std::string_view s, size_t& pos, size_t n, std::string& out) {
  if (pos + n > s.size()) return false;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[pos + i])) return false;
  }
  out.assign(s.substr(pos, n));
  pos += n;
  return true;
}

bool Char(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Matches the lenient layout starting at `start`; returns the end offset.
std::optional<size_t> MatchAt(std::string_view s, size_t start, CnjNumber& n) {
  size_t pos = start;
  if (!Digits(s, pos, 7, n.sequential)) return std::nullopt;
  Char(s, pos, '-');
  // A wrapped line or stray spaces after the hyphen: at most a few bytes.
  size_t spaces = 0;
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t') &&
         spaces < 4) {
    ++pos;
    ++spaces;
  }
  if (!Digits(s, pos, 2, n.check) || !Char(s, pos, '.')) return std::nullopt;
  if (!Digits(s, pos, 4, n.year) || !Char(s, pos, '.')) return std::nullopt;
  if (!Digits(s, pos, 1, n.branch)) return std::nullopt;
  Char(s, pos, '.');
  if (!Digits(s, pos, 2, n.court) || !Char(s, pos, '.')) return std::nullopt;
  if (!Digits(s, pos, 4, n.origin)) return std::nullopt;
  if (pos < s.size() && IsDigit(s[pos])) return std::nullopt;
  return pos;
}

}  // namespace

std::string CnjNumber::Formatted() const {
  return sequential + "-" + check + "." + year + "." + branch + "." + court + "." + origin;
}

bool CnjNumber::Valid() const {
  if (sequential.size() != 7 || check.size() != 2 || year.size() != 4 || branch.size() != 1 ||
      court.size() != 2 || origin.size() != 4) {
    return false;
  }
  for (const std::string* f : {&sequential, &check, &year, &branch, &court, &origin}) {
    for (char c : *f) {
      if (!IsDigit(c)) return false;
    }
  }
  return Mod97(sequential + year + branch + court + origin + check) == 1;
}

std::string CnjCheckDigits(std::string_view sequential, std::string_view year,
                           std::string_view branch, std::string_view court,
                           std::string_view origin) {
  int r = Mod97(sequential);
  r = Mod97(year, r);
  r = Mod97(branch, r);
  r = Mod97(court, r);
  r = Mod97(origin, r);
  r = Mod97("00", r);
  int dd = 98 - r;
  return std::string{static_cast<char>('0' + dd / 10), static_cast<char>('0' + dd % 10)};
}

std::optional<CnjNumber> ParseCnj(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  std::string_view s = text.substr(b, e - b);
  CnjNumber n;
  auto end = MatchAt(s, 0, n);
  if (!end || *end != s.size()) return std::nullopt;
  return n;
}

std::vector<CnjMatch> FindCnjNumbers(std::string_view text) {
  std::vector<CnjMatch> out;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i]) || (i > 0 && IsDigit(text[i - 1]))) {
      ++i;
      continue;
    }
    CnjNumber n;
    if (auto end = MatchAt(text, i, n)) {
      CnjMatch m;
      m.valid = n.Valid();
      m.number = std::move(n);
      m.offset = i;
      m.length = *end - i;
      out.push_back(std::move(m));
      i = *end;
    } else {
      while (i < text.size() && IsDigit(text[i])) ++i;
    }
  }
  return out;
}

}  // namespace fila::diario
