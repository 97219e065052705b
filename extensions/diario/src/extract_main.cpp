// fila-diario-extract: the numbers and docket entries of one gazette (a
// PDF, or plain text such as DJEN publications), with the time each step
// took. For measuring the extractor and checking it by eye.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fila/core/errors.h"
#include "fila/diario/pdf_text.h"
#include "fila/diario/tribunal.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace dj = fila::diario;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fila::PermanentError("cannot read " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

nlohmann::json NumbersJson(const std::vector<dj::FoundNumber>& numbers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& n : numbers) out.push_back({{"number", n.number}, {"page", n.page}, {"occurrences", n.occurrences}});
  return out;
}

nlohmann::json DecisionJson(const dj::Decision& d) {
  nlohmann::json j = {{"seq", d.seq},
                      {"process_number", d.process_number},
                      {"valid", d.number_valid},
                      {"class", d.process_class},
                      {"page", d.page},
                      {"rapporteur", d.rapporteur},
                      {"judgment_rapporteur", d.judgment_rapporteur},
                      {"origin_number", d.origin_number},
                      {"decision", d.decision_text},
                      {"partial", d.partial},
                      {"outcome", dj::OutcomeCode(d.outcome)},
                      {"parties", nlohmann::json::array()},
                      {"lawyers", nlohmann::json::array()}};
  for (const auto& p : d.parties) j["parties"].push_back({{"role", p.role}, {"name", p.name}});
  for (const auto& l : d.lawyers) {
    j["lawyers"].push_back(
        {{"name", l.name}, {"kind", l.kind}, {"oab", l.oab ? l.oab->Formatted() : ""}, {"party", l.party}});
  }
  return j;
}

void PrintHuman(const dj::Extraction& r, size_t pages) {
  std::cout << "numbers (" << r.numbers.size() << " valid, " << r.invalid_numbers.size() << " with wrong check digits)\n";
  for (const auto& n : r.numbers) std::cout << "  p." << n.page << "  " << n.number << "  x" << n.occurrences << "\n";
  for (const auto& n : r.invalid_numbers) std::cout << "  p." << n.page << "  " << n.number << "  INVALID check digits\n";
  std::cout << "docket entries (" << r.decisions.size() << ")\n";
  int decided = 0;
  int unknown = 0;
  for (const auto& d : r.decisions) {
    std::cout << "  p." << d.page << "  " << d.process_number << "  " << d.process_class;
    if (d.HasDecision()) {
      ++decided;
      unknown += d.outcome == dj::Outcome::kUnknown ? 1 : 0;
      std::cout << "  -> " << dj::OutcomeCode(d.outcome) << (d.partial ? " (partial)" : "");
    }
    if (!d.rapporteur.empty()) std::cout << "  | relator: " << d.rapporteur;
    if (!d.judgment_rapporteur.empty()) std::cout << "  | relator do acordao: " << d.judgment_rapporteur;
    std::cout << "\n";
    for (const auto& l : d.lawyers) {
      std::cout << "      " << l.kind << ": " << l.name << (l.oab ? " (OAB " + l.oab->Formatted() + ")" : "") << "\n";
    }
  }
  std::cout << pages << " pages, " << r.decisions.size() << " entries, " << decided << " judgments, " << unknown
            << " with outcome desconhecido\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Numbers and docket entries of one court gazette (PDF) or of plain text (DJEN publications)"};
  std::string pdf_path, text_path, tribunal = "tjro";
  bool json = false, dump_text = false;
  int repeat = 1;
  app.add_option("pdf", pdf_path, "The gazette PDF");
  app.add_option("--text", text_path, "Plain text instead of a PDF; pages separated by form feeds");
  app.add_option("--tribunal", tribunal,
                 "Whose page furniture to drop: tjro, or djen (each page one publication)")
      ->capture_default_str();
  app.add_flag("--json", json, "JSON: every number with its page, every entry with its fields, timings");
  app.add_flag("--dump-text", dump_text, "Print the text of each page and stop");
  app.add_option("--repeat", repeat, "Run text extraction and parsing N times, report the median")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (pdf_path.empty() == text_path.empty()) {
    std::fprintf(stderr, "fila-diario-extract: give one PDF or --text FILE (see --help)\n");
    return 2;
  }
  try {
    const std::string bytes = ReadFile(text_path.empty() ? pdf_path : text_path);
    dj::ExtractOptions options;
    if (tribunal == "djen") options.page_is_publication = true;
    else options = dj::MakeTribunal(tribunal)->Extraction();
    auto read = [&] { return text_path.empty() ? dj::ExtractPdfText(bytes) : dj::SplitPages(bytes); };
    std::vector<double> text_times, parse_times;
    std::vector<dj::PageText> pages;
    dj::Extraction result;
    for (int i = 0; i < repeat; ++i) {
      const auto a = Clock::now();
      pages = read();
      const auto b = Clock::now();
      if (dump_text) break;
      result = dj::ExtractDecisions(pages, options);
      const auto c = Clock::now();
      text_times.push_back(std::chrono::duration<double>(b - a).count());
      parse_times.push_back(std::chrono::duration<double>(c - b).count());
    }
    if (dump_text) {
      for (const auto& p : pages) std::cout << "=====PAGE " << p.number << "\n" << p.text << "\n";
      return 0;
    }
    if (!json) {
      PrintHuman(result, pages.size());
      return 0;
    }
    nlohmann::json out;
    int decided = 0;
    int unknown = 0;
    out["decisions"] = nlohmann::json::array();
    for (const auto& d : result.decisions) {
      decided += d.HasDecision() ? 1 : 0;
      unknown += d.HasDecision() && d.outcome == dj::Outcome::kUnknown ? 1 : 0;
      out["decisions"].push_back(DecisionJson(d));
    }
    out["numbers"] = NumbersJson(result.numbers);
    out["invalid_numbers"] = NumbersJson(result.invalid_numbers);
    const double text_s = Median(text_times);
    const double parse_s = Median(parse_times);
    out["summary"] = {{"pages", pages.size()},
                      {"entries", result.decisions.size()},
                      {"decisions", decided},
                      {"unknown_outcomes", unknown},
                      {"distinct_valid_numbers", result.numbers.size()},
                      {"invalid_numbers", result.invalid_numbers.size()},
                      {"occurrences", result.occurrences},
                      {"runs", repeat},
                      {"text_seconds", text_s},
                      {"parse_seconds", parse_s},
                      {"pages_per_second", pages.size() / (text_s + parse_s)}};
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  } catch (const fila::PermanentError& e) {
    std::fprintf(stderr, "fila-diario-extract: %s\n", e.what());
    return 2;
  } catch (const fila::Error& e) {
    std::fprintf(stderr, "fila-diario-extract: %s\n", e.what());
    return 1;
  }
}
