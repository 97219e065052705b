#pragma once

// What differs from one tribunal to another: where its gazette of a day is,
// and the furniture of its pages. TJRO is the first; another tribunal is one
// more implementation registered in MakeTribunal. Thread-safe (immutable).

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "fila/diario/extractor.h"

namespace fila::diario {

// A calendar date "YYYY-MM-DD". Throws PermanentError (field `field`) when
// `text` is not a real date.
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  static Date Parse(std::string_view text, const std::string& field = "date");
  std::string Iso() const;      // 2024-07-20
  std::string Compact() const;  // 20240720
  Date Next() const;
  auto operator<=>(const Date&) const = default;
};

class Tribunal {
 public:
  virtual ~Tribunal() = default;
  virtual std::string Code() const = 0;  // "tjro"
  // The URL of the gazette published on `date`.
  virtual std::string GazetteUrl(const Date& date) const = 0;
  virtual ExtractOptions Extraction() const = 0;
};

// `url_templates` maps a tribunal code to a URL template with {yyyy}, {mm},
// {dd} and {yyyymmdd} (for tests and mirrors); a tribunal without one uses
// its own. Throws PermanentError (field "tribunal") for an unknown code.
std::unique_ptr<Tribunal> MakeTribunal(std::string_view code,
                                       const std::map<std::string, std::string>& url_templates = {});

// Replaces {yyyy}, {mm}, {dd} and {yyyymmdd} in `url_template`.
std::string ExpandUrlTemplate(std::string url_template, const Date& date);

}  // namespace fila::diario
