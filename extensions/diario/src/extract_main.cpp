// fila-diario-extract: the text and decisions of one gazette PDF, with the
// time each step took. For measuring the extractor and checking it by eye.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/diario/cnj.h"
#include "fila/diario/pdf_text.h"
#include "fila/diario/tribunal.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr,
                 "usage: fila-diario-extract FILE.pdf [tribunal] [--text | --repeat=N]\n"
                 "  --repeat=N: run text extraction and parsing N times, report the median\n");
    return 2;
  }
  try {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) throw fila::PermanentError(std::string("cannot read ") + argv[1]);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    auto tribunal = fila::diario::MakeTribunal(argc > 2 && argv[2][0] != '-' ? argv[2] : "tjro");
    const std::string last = argv[argc - 1];
    const bool text_only = last == "--text";
    const int repeat = last.rfind("--repeat=", 0) == 0 ? std::max(1, std::atoi(last.c_str() + 9)) : 1;
    std::vector<double> text_times, parse_times;
    for (int i = 1; i < repeat; ++i) {
      const auto a = Clock::now();
      auto p = fila::diario::ExtractPdfText(bytes.str());
      const auto b = Clock::now();
      auto r = fila::diario::ExtractDecisions(p, tribunal->Extraction());
      const auto c = Clock::now();
      text_times.push_back(std::chrono::duration<double>(b - a).count());
      parse_times.push_back(std::chrono::duration<double>(c - b).count());
    }
    const auto t0 = Clock::now();
    auto pages = fila::diario::ExtractPdfText(bytes.str());
    const auto t1 = Clock::now();
    if (text_only) {
      for (const auto& p : pages) std::cout << "=====PAGE " << p.number << "\n" << p.text << "\n";
      return 0;
    }
    auto result = fila::diario::ExtractDecisions(pages, tribunal->Extraction());
    const auto t2 = Clock::now();
    nlohmann::json out;
    int decided = 0;
    for (const auto& d : result.decisions) {
      nlohmann::json j = {{"seq", d.seq},           {"process_number", d.process_number},
                          {"valid", d.number_valid}, {"class", d.process_class},
                          {"page", d.page},          {"rapporteur", d.rapporteur},
                          {"origin_number", d.origin_number},
                          {"decision", d.decision_text},
                          {"outcome", fila::diario::OutcomeCode(d.outcome)}};
      for (const auto& p : d.parties) j["parties"].push_back({{"role", p.role}, {"name", p.name}});
      for (const auto& l : d.lawyers) {
        j["lawyers"].push_back({{"name", l.name},
                                {"kind", l.kind},
                                {"oab", l.oab ? l.oab->Formatted() : ""},
                                {"party", l.party}});
      }
      if (d.HasDecision()) ++decided;
      out["decisions"].push_back(std::move(j));
    }
    for (const auto& n : result.invalid_numbers) out["invalid_numbers"].push_back(n.number);
    text_times.push_back(std::chrono::duration<double>(t1 - t0).count());
    parse_times.push_back(std::chrono::duration<double>(t2 - t1).count());
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double text_s = median(text_times);
    const double parse_s = median(parse_times);
    out["summary"] = {{"pages", pages.size()},
                      {"entries", result.decisions.size()},
                      {"decisions", decided},
                      {"distinct_valid_numbers", result.numbers.size()},
                      {"invalid_numbers", result.invalid_numbers.size()},
                      {"occurrences", result.occurrences},
                      {"runs", repeat},
                      {"text_seconds", text_s},
                      {"parse_seconds", parse_s},
                      {"pages_per_second", pages.size() / (text_s + parse_s)},
                      {"decisions_per_second", decided / (text_s + parse_s)}};
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
