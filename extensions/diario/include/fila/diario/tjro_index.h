#pragma once

// TJRO's gazette index, as the site publishes it (pure: no I/O).
//
// `list.php?ano=YYYY` answers a JSON array of the year's editions:
//   {"relativePath": "20250626614-NR115.pdf", "year": "2025", "month": "06",
//    "day": "26", "number": "115", "url": "/novodiario/2025/20250626614-NR115.pdf"}
// and a supplement (or annex) of the same day and number carries
// "sufix": "SUP" (or "ANEXO", ...) with its own file. The file name holds a
// part that cannot be derived from the date: an edition is named by the
// index, never by a guessed URL. `ultimo-diario.php` redirects to the
// latest edition's PDF.
//
// The index is untrusted input: it never decides which host a worker
// reaches (ResolveOnTribunalHost), and a bad entry is set aside with its
// reason instead of stopping the rest.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fila/diario/tribunal.h"

namespace fila::diario {

// One gazette edition: (year, number, suffix) names it.
struct Edition {
  Date date;
  int number = 0;
  std::string suffix;  // "" for the main edition; "SUP", "ANEXO", ... as the index says
  std::string path;    // "/novodiario/2024/20240829914-NR162-SUP.pdf": checked, on the tribunal's host
  // "2024:162" or "2024:162:SUP": the edition's identity (idempotency keys,
  // the backfill's plan, the stored gazette's source).
  std::string Key() const;
  bool operator==(const Edition&) const = default;
};

struct IndexParse {
  std::vector<Edition> editions;
  std::vector<std::string> rejected;  // one reason per entry set aside (never the entry's bytes)
};

// The largest index answer read (a year has ~250 entries of ~150 bytes).
inline constexpr size_t kMaxIndexBytes = size_t{4} << 20;
inline constexpr size_t kMaxIndexEntries = 2000;

// Parses list.php's answer for `year`. Entries whose fields are missing,
// of the wrong type or shape (a number that is not 1 to 6 digits, a date
// that does not exist, another year, a path off the tribunal's host or
// with odd characters), and repeated editions are set aside in `rejected`.
// Throws TransientError when the answer is not a JSON array at all (an
// HTML block page, a cut-off body: the site's trouble, worth asking again
// later) or nests deeper than a few levels, PermanentError when it holds
// more than kMaxIndexEntries entries. `origin` ("https://www.tjro.jus.br")
// is the only host an entry's absolute `url` may name.
IndexParse ParseTjroIndex(std::string_view body, int year, const std::string& origin);

// "scheme://host[:port]" of an http(s) URL; PermanentError (field) when
// `url` is not one.
std::string UrlOrigin(const std::string& url, const std::string& field);

// The URL of `reference` (an index entry's `url`, a redirect's Location,
// a payload's path) on the tribunal's host `origin`: "/path" is taken
// below `origin`; an absolute URL only when its scheme, host and port are
// `origin`'s. Anything else — another host, "//host/path", a relative
// path, "..", characters outside [A-Za-z0-9/._-] — is a PermanentError
// naming the field: an index (or a producer) never chooses where the
// worker connects.
std::string ResolveOnTribunalHost(const std::string& origin, std::string_view reference, const std::string& field);

// The edition a PDF's file name names ("20250626614-NR115.pdf",
// "20240829914-NR162-SUP.pdf"): for ultimo-diario.php's redirect. The date
// is the name's first 8 digits. PermanentError when it has not that shape.
Edition EditionFromPath(const std::string& path);

// Where TJRO's site is (the operator's settings; tests and mirrors change
// them).
struct TjroSite {
  std::string index_url = "https://www.tjro.jus.br/diario_oficial/list.php";
  std::string latest_url = "https://www.tjro.jus.br/diario_oficial/ultimo-diario.php";
  // "scheme://host[:port]" of index_url: the only host whose PDFs are
  // fetched for an edition (an index's `url` is resolved against it).
  std::string Origin() const { return UrlOrigin(index_url, "FILA_DIARIO_TJRO_INDEX_URL"); }
  // FILA_DIARIO_TJRO_INDEX_URL, FILA_DIARIO_TJRO_LATEST_URL (http(s); the
  // latest page must be on the index's host). PermanentError for a bad one.
  static TjroSite FromEnv();
};

// The list.php URL of `year`: `index_url` + "?ano=YYYY" (or "&ano=").
std::string IndexUrlOfYear(const std::string& index_url, int year);

}  // namespace fila::diario
