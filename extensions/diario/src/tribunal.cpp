#include "fila/diario/tribunal.h"

#include <cstdio>

#include "fila/core/errors.h"
#include "fila/diario/text.h"

namespace fila::diario {
namespace {

bool Leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysIn(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && Leap(y) ? 29 : kDays[m - 1];
}

std::string Two(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// TJRO pages carry a running header (title, year and number of the issue,
// weekday and date, page number) and a footer on the digital signature.
bool TjroBoilerplate(std::string_view line) {
  static constexpr std::string_view kStarts[] = {
      "Este di\xC3\xA1rio foi assinado digitalmente", "Rond\xC3\xB4nia, endere\xC3\xA7o: http",
      "DIARIO DA JUSTI", "DI\xC3\x81RIO DA JUSTI"};
  for (auto s : kStarts) {
    if (line.rfind(s, 0) == 0) return true;
  }
  if (line.rfind("ANO ", 0) == 0 && line.find("N\xC3\x9AMERO") != std::string_view::npos) return true;
  bool digits = !line.empty() && line.size() <= 4;
  for (char c : line) digits = digits && c >= '0' && c <= '9';
  return digits;
}

class Tjro final : public Tribunal {
 public:
  explicit Tjro(std::string url_template) : template_(std::move(url_template)) {}
  std::string Code() const override { return "tjro"; }
  std::string GazetteUrl(const Date& date) const override { return ExpandUrlTemplate(template_, date); }
  ExtractOptions Extraction() const override { return {.is_boilerplate = TjroBoilerplate}; }

 private:
  std::string template_;
};

}  // namespace

Date Date::Parse(std::string_view text, const std::string& field) {
  std::string_view s = Trim(text);
  auto bad = [&] {
    return PermanentError("'" + std::string(s) + "' is not a date (YYYY-MM-DD)", field);
  };
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') throw bad();
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') throw bad();
  }
  Date d;
  d.year = std::stoi(std::string(s.substr(0, 4)));
  d.month = std::stoi(std::string(s.substr(5, 2)));
  d.day = std::stoi(std::string(s.substr(8, 2)));
  if (d.year < 1900 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > DaysIn(d.year, d.month)) {
    throw bad();
  }
  return d;
}

std::string Date::Iso() const { return std::to_string(year) + "-" + Two(month) + "-" + Two(day); }
std::string Date::Compact() const { return std::to_string(year) + Two(month) + Two(day); }

Date Date::Next() const {
  Date d = *this;
  if (++d.day > DaysIn(d.year, d.month)) {
    d.day = 1;
    if (++d.month > 12) {
      d.month = 1;
      ++d.year;
    }
  }
  return d;
}

std::string ExpandUrlTemplate(std::string url_template, const Date& date) {
  ReplaceAll(url_template, "{yyyymmdd}", date.Compact());
  ReplaceAll(url_template, "{yyyy}", std::to_string(date.year));
  ReplaceAll(url_template, "{mm}", Two(date.month));
  ReplaceAll(url_template, "{dd}", Two(date.day));
  return url_template;
}

std::unique_ptr<Tribunal> MakeTribunal(std::string_view code,
                                       const std::map<std::string, std::string>& url_templates) {
  std::string lower;
  for (char c : code) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  auto it = url_templates.find(lower);
  if (lower == "tjro") {
    // The gazette archive of TJRO by date; mirrors and tests override it.
    return std::make_unique<Tjro>(it != url_templates.end()
                                      ? it->second
                                      : "https://www.tjro.jus.br/diario_oficial/arquivos/{yyyy}/{yyyymmdd}.pdf");
  }
  throw PermanentError("unknown tribunal '" + std::string(code) + "' (known: tjro)", "tribunal");
}

}  // namespace fila::diario
