#include "fila/diario/text.h"

#include <cctype>
#include <cstring>

namespace fila::diario {
namespace {

// Two-byte UTF-8 letters of Latin-1 (C3 xx) folded to their base letter.
char FoldLatin1(unsigned char second) {
  // Offsets from U+00C0 (C3 80) to U+00FF (C3 BF).
  static const char kBase[] =
      "AAAAAAACEEEEIIII"  // C0-CF
      "DNOOOOOxOUUUUYTs"  // D0-DF
      "AAAAAAACEEEEIIII"  // E0-EF
      "DNOOOOO/OUUUUYTY";  // F0-FF
  if (second < 0x80 || second > 0xBF) return 0;
  return kBase[second - 0x80];
}

}  // namespace

std::string Fold(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(std::toupper(c));
      continue;
    }
    if (c == 0xC3 && i + 1 < text.size()) {
      char base = FoldLatin1(static_cast<unsigned char>(text[i + 1]));
      if (base != 0) {
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(base)));
        ++i;
        continue;
      }
    }
    // “ ” „ (E2 80 9C/9D/9E) and º ª (C2 BA/AA).
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80) {
      auto third = static_cast<unsigned char>(text[i + 2]);
      if (third == 0x9C || third == 0x9D || third == 0x9E) {
        out += '"';
        i += 2;
        continue;
      }
      if (third == 0x93 || third == 0x94) {  // en and em dash
        out += '-';
        i += 2;
        continue;
      }
    }
    if (c == 0xC2 && i + 1 < text.size()) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      if (second == 0xBA || second == 0xB0) {
        out += 'O';
        ++i;
        continue;
      }
      if (second == 0xAA) {
        out += 'A';
        ++i;
        continue;
      }
      if (second == 0xA0) {  // no-break space
        out += ' ';
        ++i;
        continue;
      }
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return text.substr(b, e - b);
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return out;
}

std::string Squash(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : Trim(text)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace fila::diario
