#include "fila/diario/extractor.h"

#include <algorithm>
#include <map>

#include "fila/diario/cnj.h"
#include "fila/diario/text.h"
#include "entry_fields.h"

namespace fila::diario {
namespace {

using fields::Field;

struct Line {
  size_t offset = 0;  // in the joined text
  size_t length = 0;
  int page = 0;
};

// Lines that end an entry: the next section of the gazette begins.
bool IsSectionBreak(std::string_view line) {
  const std::string f = Fold(line);
  static constexpr std::string_view kBreaks[] = {
      "PROCESSOS JULGADOS", "PROCESSOS RETIRADOS", "PROCESSOS DA PAUTA", "PAUTA DE JULGAMENTO", "ATA DE JULGAMENTO",
      "ATA DA SESSAO", "A SESSAO ", "PORTO VELHO, ", "EXMO.", "DOCUMENTO ASSINADO ELETRONICAMENTE",
      "PODER JUDICIARIO DO ESTADO", "DESPACHO", "EDITAL", "PORTARIA", "AVISO"};
  for (auto b : kBreaks) {
    if (f.rfind(b, 0) == 0) return true;
  }
  return false;
}

bool HasClosingQuote(std::string_view s) {
  return s.find("\xE2\x80\x9D") != std::string_view::npos ||
         (std::count(s.begin(), s.end(), '"') % 2 == 0 && s.find('"') != std::string_view::npos);
}

std::string StripQuotes(std::string text) {
  for (std::string_view q : {"\xE2\x80\x9C", "\xE2\x80\x9D", "\""}) {
    size_t pos;
    while ((pos = text.find(q)) != std::string::npos) text.erase(pos, q.size());
  }
  return Squash(text);
}

struct Header {
  size_t line = 0;
  size_t match = 0;  // index into the CNJ matches
  std::string process_class;
};

class Parser {
 public:
  Parser(const std::vector<PageText>& pages, const ExtractOptions& options) : options_(options) {
    for (const auto& page : pages) {
      for (std::string_view raw : Lines(page.text)) {
        std::string_view trimmed = Trim(raw);
        if (trimmed.empty()) continue;
        if (options.is_boilerplate && options.is_boilerplate(trimmed)) continue;
        for (std::string_view line : fields::SplitAtLabels(trimmed)) {
          if (line.empty()) continue;
          lines_.push_back({joined_.size(), line.size(), page.number});
          joined_.append(line);
          joined_ += '\n';
        }
      }
    }
    matches_ = FindCnjNumbers(joined_);
    for (size_t i = 0; i < matches_.size(); ++i) by_offset_[matches_[i].offset] = i;
  }

  Extraction Run() {
    Extraction out;
    CountNumbers(out);
    std::vector<Header> headers;
    int page_done = -1;
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (options_.page_is_publication && lines_[i].page == page_done) continue;
      auto h = fields::HeaderAt(LineText(i), options_.page_is_publication);
      if (!h) continue;
      auto it = by_offset_.find(lines_[i].offset + h->number);
      if (it == by_offset_.end() || (options_.page_is_publication && !matches_[it->second].valid)) continue;
      headers.push_back({i, it->second, std::move(h->process_class)});
      page_done = lines_[i].page;
    }
    for (size_t h = 0; h < headers.size(); ++h) {
      size_t end = h + 1 < headers.size() ? headers[h + 1].line : lines_.size();
      out.decisions.push_back(ParseEntry(headers[h].line, end, headers[h]));
      out.decisions.back().seq = static_cast<int>(h);
    }
    return out;
  }

 private:
  std::string_view LineText(size_t i) const {
    return std::string_view(joined_).substr(lines_[i].offset, lines_[i].length);
  }

  // A wrapped field value goes on on the next line when its line was long
  // (it reached the column's margin) and the next has no label of its own.
  bool Continues(size_t i, size_t end, Field field) const {
    if (i + 1 >= end || (field != Field::kParty && field != Field::kLawyer && field != Field::kProcurador &&
                         field != Field::kDefensor)) {
      return false;
    }
    if (lines_[i + 1].page != lines_[i].page || lines_[i].length < 64) return false;
    std::string_view next = LineText(i + 1);
    std::string_view value;
    if (!fields::LabelOf(next, value).empty() || fields::DecisionStart(next) || IsSectionBreak(next)) return false;
    return !fields::HeaderAt(next, false);
  }

  Decision ParseEntry(size_t first, size_t end, const Header& header) const {
    Decision d;
    const CnjMatch& m = matches_[header.match];
    d.process_number = m.number.Formatted();
    d.number_valid = m.valid;
    d.process_class = header.process_class;
    d.page = lines_[first].page;
    bool after_rapporteur = false;
    bool in_decision = false;
    std::string decision;
    constexpr size_t kMaxLines = 80;
    for (size_t i = first; i < end && i < first + kMaxLines; ++i) {
      std::string_view line = LineText(i);
      if (i > first && (IsSectionBreak(line) || (options_.page_is_publication && lines_[i].page != d.page))) break;
      d.block.append(line);
      d.block += '\n';
      std::string_view value;
      std::string_view label = fields::LabelOf(line, value);
      if (i == first && label.empty()) continue;
      if (in_decision) {
        if (!label.empty() && fields::Classify(label) != Field::kParty) {
          in_decision = false;
        } else {
          decision += ' ';
          decision.append(line);
          if (HasClosingQuote(line)) in_decision = false;
          continue;
        }
      }
      if (auto start = fields::DecisionStart(line)) {
        decision = std::string(start->first);
        d.partial = start->second;
        in_decision = !HasClosingQuote(decision);
        continue;
      }
      if (label.empty()) continue;
      const Field field = fields::Classify(label);
      std::string joined(value);
      while (Continues(i, end, field)) {
        ++i;
        joined += ' ';
        joined.append(LineText(i));
        d.block.append(LineText(i));
        d.block += '\n';
      }
      Apply(d, field, label, joined, after_rapporteur);
    }
    d.decision_text = StripQuotes(decision);
    d.outcome = d.decision_text.empty() ? Outcome::kUnknown : NormaliseOutcome(d.decision_text);
    // A partial decision is unfinished whatever the votes so far.
    if (d.partial && !d.decision_text.empty() && d.outcome != Outcome::kPedidoDeVista &&
        d.outcome != Outcome::kRetiradoDePauta) {
      d.outcome = Outcome::kAdiado;
    }
    if (d.judgment_rapporteur == d.rapporteur) d.judgment_rapporteur.clear();
    return d;
  }

  static void Apply(Decision& d, Field field, std::string_view label, std::string_view value, bool& after_rapporteur) {
    switch (field) {
      case Field::kOrigin:
        d.origin = std::string(value);
        if (auto nums = FindCnjNumbers(value); !nums.empty() && nums.front().valid) {
          d.origin_number = nums.front().number.Formatted();
        }
        break;
      case Field::kClass:
        if (d.process_class.empty()) d.process_class = fields::CleanClass(value);
        break;
      case Field::kRapporteur:
        if (d.rapporteur.empty()) d.rapporteur = Squash(value);
        after_rapporteur = true;
        break;
      case Field::kJudgmentRapporteur:
        d.judgment_rapporteur = Squash(value);
        after_rapporteur = true;
        break;
      case Field::kLawyer:
      case Field::kProcurador:
      case Field::kDefensor:
        if (!after_rapporteur) AddLawyers(d, field, value);
        break;
      case Field::kParty:
        if (!after_rapporteur && !value.empty()) {
          // "Impetrante (Advogado): Name (OAB/RO 10915)": a party acting as its own lawyer.
          size_t paren = value.find(" (OAB");
          d.parties.push_back({std::string(label), Squash(value.substr(0, paren))});
          if (Fold(label).find("ADVOGAD") != std::string::npos) AddLawyers(d, Field::kLawyer, value);
        }
        break;
      default:
        break;
    }
  }

  static void AddLawyers(Decision& d, Field field, std::string_view value) {
    const char* kind = field == Field::kLawyer ? "advogado" : field == Field::kProcurador ? "procurador" : "defensor";
    for (Lawyer& l : fields::SplitLawyers(value, kind)) {
      l.party = static_cast<int>(d.parties.size()) - 1;
      d.lawyers.push_back(std::move(l));
    }
  }

  void CountNumbers(Extraction& out) const {
    std::map<std::string, size_t> valid;
    std::map<std::string, size_t> invalid;
    for (const auto& m : matches_) {
      ++out.occurrences;
      auto& index = m.valid ? valid : invalid;
      auto& list = m.valid ? out.numbers : out.invalid_numbers;
      std::string number = m.number.Formatted();
      auto it = index.find(number);
      if (it == index.end()) {
        index.emplace(number, list.size());
        list.push_back({number, PageOf(m.offset), 1});
      } else {
        ++list[it->second].occurrences;
      }
    }
  }

  int PageOf(size_t offset) const {
    auto it = std::upper_bound(lines_.begin(), lines_.end(), offset,
                               [](size_t o, const Line& l) { return o < l.offset; });
    return it == lines_.begin() ? 0 : std::prev(it)->page;
  }

  ExtractOptions options_;
  std::string joined_;
  std::vector<Line> lines_;
  std::vector<CnjMatch> matches_;
  std::map<size_t, size_t> by_offset_;
};

}  // namespace

std::vector<PageText> SplitPages(std::string_view text) {
  std::vector<PageText> pages;
  size_t from = 0;
  for (;;) {
    size_t ff = text.find('\f', from);
    pages.push_back({static_cast<int>(pages.size()) + 1,
                     std::string(text.substr(from, ff == std::string_view::npos ? std::string_view::npos : ff - from))});
    if (ff == std::string_view::npos) break;
    from = ff + 1;
  }
  return pages;
}

Extraction ExtractDecisions(const std::vector<PageText>& pages, const ExtractOptions& options) {
  return Parser(pages, options).Run();
}

}  // namespace fila::diario
