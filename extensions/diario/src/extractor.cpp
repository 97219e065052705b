#include "fila/diario/extractor.h"

#include <algorithm>
#include <map>

#include "fila/diario/cnj.h"
#include "fila/diario/text.h"

namespace fila::diario {
namespace {

struct Line {
  size_t offset = 0;  // in the joined text
  size_t length = 0;
  int page = 0;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An upper-case letter, ASCII or a two-byte Latin-1 one (É, Á, ...).
bool StartsUpper(std::string_view s) {
  if (s.empty()) return false;
  auto c = static_cast<unsigned char>(s[0]);
  if (c >= 'A' && c <= 'Z') return true;
  return c == 0xC3 && s.size() > 1 && static_cast<unsigned char>(s[1]) < 0xA0;
}

// Lines that end an entry: the next section of the gazette begins.
bool IsSectionBreak(std::string_view line) {
  const std::string f = Fold(line);
  static constexpr std::string_view kBreaks[] = {
      "PROCESSOS JULGADOS", "PROCESSOS RETIRADOS", "PAUTA DE JULGAMENTO", "ATA DE JULGAMENTO",
      "ATA DA SESSAO", "A SESSAO ", "PORTO VELHO, ", "EXMO.", "DOCUMENTO ASSINADO ELETRONICAMENTE",
      "PODER JUDICIARIO DO ESTADO", "DESPACHO", "EDITAL", "PORTARIA", "AVISO"};
  for (auto b : kBreaks) {
    if (f.rfind(b, 0) == 0) return true;
  }
  return false;
}

// "Label: value" with a short label; "" when the line has none.
std::string_view LabelOf(std::string_view line, std::string_view& value) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 48) return {};
  std::string_view label = Trim(line.substr(0, colon));
  for (char c : label) {
    if (IsDigit(c) || c == ',' || c == ';' || c == '.') return {};
  }
  if (std::count(label.begin(), label.end(), ' ') > 3) return {};
  value = Trim(line.substr(colon + 1));
  return label;
}

enum class Field { kNone, kOrigin, kLawyer, kProcurador, kDefensor, kRapporteur, kIgnored, kParty };

Field Classify(std::string_view label) {
  const std::string f = Fold(label);
  if (f == "ORIGEM") return Field::kOrigin;
  if (f.rfind("ADVOGAD", 0) == 0) return Field::kLawyer;
  if (f.rfind("PROCURADOR", 0) == 0) return Field::kProcurador;
  if (f.rfind("DEFENSOR", 0) == 0) return Field::kDefensor;
  if (f == "RELATOR" || f == "RELATORA") return Field::kRapporteur;
  static constexpr std::string_view kIgnored[] = {
      "RELATOR", "REVISOR", "OBJETO", "OBSERVA", "SUSPEI", "IMPEDI", "DECIS", "SUSTENTA",
      "PRESIDENTE", "SECRETARI", "ASSUNTO", "VALOR", "DATA", "HORA", "LOCAL", "CNPJ", "CPF",
      "E-MAIL", "EMAIL", "SITE", "HTTP", "ASSINAM", "MARCA", "MODELO", "OBS"};
  for (auto i : kIgnored) {
    if (f.rfind(i, 0) == 0) return Field::kIgnored;
  }
  if (!StartsUpper(label)) return Field::kIgnored;
  for (char c : label) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (u >= 0x80) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' ||
              c == '(' || c == ')' || c == '/' || c == '-';
    if (!ok) return Field::kIgnored;
  }
  return Field::kParty;
}

// Where "Decisão:" / "Decisão Parcial:" starts in `line`, and its text.
std::optional<std::pair<std::string_view, bool>> DecisionStart(std::string_view line) {
  static constexpr std::string_view kDecisao = "Decis\xC3\xA3o";
  size_t pos = line.find(kDecisao);
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(pos + kDecisao.size());
  bool partial = false;
  if (rest.rfind(" Parcial", 0) == 0) {
    partial = true;
    rest.remove_prefix(8);
  }
  rest = Trim(rest);
  if (rest.empty() || rest[0] != ':') return std::nullopt;
  return std::make_pair(Trim(rest.substr(1)), partial);
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
  size_t match = 0;  // index into the CNJ matches
  std::string process_class;
};

class Parser {
 public:
  Parser(const std::vector<PageText>& pages, const ExtractOptions& options) {
    for (const auto& page : pages) {
      for (std::string_view raw : Lines(page.text)) {
        std::string_view line = Trim(raw);
        if (line.empty()) continue;
        if (options.is_boilerplate && options.is_boilerplate(line)) continue;
        lines_.push_back({joined_.size(), line.size(), page.number});
        joined_.append(line);
        joined_ += '\n';
      }
    }
    matches_ = FindCnjNumbers(joined_);
    for (size_t i = 0; i < matches_.size(); ++i) by_offset_[matches_[i].offset] = i;
  }

  Extraction Run() {
    Extraction out;
    CountNumbers(out);
    std::vector<std::pair<size_t, Header>> headers;
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (auto h = HeaderAt(i)) headers.emplace_back(i, std::move(*h));
    }
    for (size_t h = 0; h < headers.size(); ++h) {
      size_t end = h + 1 < headers.size() ? headers[h + 1].first : lines_.size();
      out.decisions.push_back(ParseEntry(headers[h].first, end, headers[h].second));
      out.decisions.back().seq = static_cast<int>(h);
    }
    return out;
  }

 private:
  std::string_view LineText(size_t i) const {
    return std::string_view(joined_).substr(lines_[i].offset, lines_[i].length);
  }

  // The match starting at `offset` of the joined text, if any.
  const CnjMatch* MatchAt(size_t offset, size_t* index = nullptr) const {
    auto it = by_offset_.find(offset);
    if (it == by_offset_.end()) return nullptr;
    if (index != nullptr) *index = it->second;
    return &matches_[it->second];
  }

  // The rest of the line on which the match ends.
  std::string_view AfterMatch(const CnjMatch& m) const {
    size_t end = m.offset + m.length;
    size_t nl = joined_.find('\n', end);
    return Trim(std::string_view(joined_).substr(end, nl - end));
  }

  // "n. 01 7060336-19.2024.8.22.0001 Apelação", "7026480-64.2024.8.22.0001
  // Apelação" or "02. Processo Administrativo n. 0816462-73.2024.8.22.0000".
  std::optional<Header> HeaderAt(size_t i) const {
    std::string_view line = LineText(i);
    size_t skip = 0;
    if (line.rfind("n. ", 0) == 0 || line.rfind("n.", 0) == 0) {
      skip = 2;
      while (skip < line.size() && line[skip] == ' ') ++skip;
      size_t digits = skip;
      while (digits < line.size() && IsDigit(line[digits])) ++digits;
      if (digits == skip || digits >= line.size()) return std::nullopt;
      // "n. 01 ", "n. 01- ", "n. 02 - "
      skip = digits;
      while (skip < line.size() && line[skip] == ' ') ++skip;
      if (skip < line.size() && line[skip] == '-') ++skip;
      while (skip < line.size() && line[skip] == ' ') ++skip;
      if (skip == digits) return std::nullopt;
    }
    size_t index = 0;
    if (const CnjMatch* m = MatchAt(lines_[i].offset + skip, &index)) {
      std::string_view cls = AfterMatch(*m);
      if (!StartsUpper(cls)) return std::nullopt;
      return Header{index, std::string(cls)};
    }
    // "NN. Class n. CNJ"
    size_t d = 0;
    while (d < line.size() && IsDigit(line[d])) ++d;
    if (d == 0 || d > 3 || d + 1 >= line.size() || line[d] != '.' || line[d + 1] != ' ') {
      return std::nullopt;
    }
    size_t n = line.find(" n. ");
    if (n == std::string_view::npos) n = line.find(" n\xC2\xBA ");
    if (n == std::string_view::npos) return std::nullopt;
    size_t num = line.find_first_of("0123456789", n);
    if (num == std::string_view::npos) return std::nullopt;
    const CnjMatch* m = MatchAt(lines_[i].offset + num, &index);
    if (m == nullptr) return std::nullopt;
    std::string_view cls = Trim(line.substr(d + 2, n - d - 2));
    if (!StartsUpper(cls)) return std::nullopt;
    return Header{index, std::string(cls)};
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
      if (i > first && IsSectionBreak(line)) break;
      d.block.append(line);
      d.block += '\n';
      if (i == first) continue;
      std::string_view value;
      std::string_view label = LabelOf(line, value);
      if (in_decision) {
        if (!label.empty() && Classify(label) != Field::kParty) {
          in_decision = false;
        } else {
          decision += ' ';
          decision.append(line);
          if (HasClosingQuote(line)) in_decision = false;
          continue;
        }
      }
      if (auto start = DecisionStart(line)) {
        decision = std::string(start->first);
        d.partial = start->second;
        in_decision = !HasClosingQuote(decision);
        continue;
      }
      if (label.empty()) continue;
      switch (Classify(label)) {
        case Field::kOrigin:
          d.origin = std::string(value);
          if (auto nums = FindCnjNumbers(value); !nums.empty() && nums.front().valid) {
            d.origin_number = nums.front().number.Formatted();
          }
          break;
        case Field::kRapporteur:
          if (d.rapporteur.empty()) d.rapporteur = std::string(value);
          after_rapporteur = true;
          break;
        case Field::kLawyer:
        case Field::kProcurador:
        case Field::kDefensor:
          if (!after_rapporteur) AddLawyer(d, Classify(label), value);
          break;
        case Field::kParty:
          if (!after_rapporteur && !value.empty()) {
            // "Impetrante (Advogado): Name (OAB/RO 10915)": a party acting as its own lawyer.
            size_t paren = value.find(" (OAB");
            d.parties.push_back({std::string(label), std::string(Trim(value.substr(0, paren)))});
            if (Fold(label).find("ADVOGAD") != std::string::npos) AddLawyer(d, Field::kLawyer, value);
          }
          break;
        default:
          break;
      }
    }
    d.decision_text = StripQuotes(decision);
    d.outcome = d.decision_text.empty() ? Outcome::kUnknown : NormaliseOutcome(d.decision_text);
    if (d.partial && !d.decision_text.empty()) d.outcome = Outcome::kAdiado;
    return d;
  }

  static void AddLawyer(Decision& d, Field field, std::string_view value) {
    Lawyer l;
    l.kind = field == Field::kLawyer ? "advogado" : field == Field::kProcurador ? "procurador" : "defensor";
    size_t paren = value.find('(');
    l.name = std::string(Trim(value.substr(0, paren)));
    if (paren != std::string_view::npos) {
      auto oabs = FindOabNumbers(value.substr(paren));
      if (!oabs.empty()) l.oab = oabs.front();
    }
    l.party = static_cast<int>(d.parties.size()) - 1;
    if (!l.name.empty()) d.lawyers.push_back(std::move(l));
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

  std::string joined_;
  std::vector<Line> lines_;
  std::vector<CnjMatch> matches_;
  std::map<size_t, size_t> by_offset_;
};

}  // namespace

Extraction ExtractDecisions(const std::vector<PageText>& pages, const ExtractOptions& options) {
  return Parser(pages, options).Run();
}

}  // namespace fila::diario
