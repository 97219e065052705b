#include "entry_fields.h"

#include <algorithm>

#include "fila/diario/cnj.h"
#include "fila/diario/oab.h"
#include "fila/diario/text.h"

namespace fila::diario::fields {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// An upper-case letter, ASCII or a two-byte Latin-1 one (É, Á, ...).
bool StartsUpper(std::string_view s) {
  if (s.empty()) return false;
  auto c = static_cast<unsigned char>(s[0]);
  if (c >= 'A' && c <= 'Z') return true;
  return c == 0xC3 && s.size() > 1 && static_cast<unsigned char>(s[1]) < 0xA0;
}

// Skips "03. ", "01 - ", "n. 01 ", "- 022. " at the start; true when an
// ordinal was there.
bool SkipOrdinal(std::string_view line, size_t& pos) {
  size_t p = pos;
  if (StartsWith(line.substr(p), "- ")) p += 2;
  if (StartsWith(line.substr(p), "n.")) {
    p += 2;
    while (p < line.size() && line[p] == ' ') ++p;
  }
  size_t d = p;
  while (d < line.size() && IsDigit(line[d])) ++d;
  if (d == p || d - p > 3 || d >= line.size()) return false;
  size_t q = d;
  if (line[q] == '.' || line[q] == ')') ++q;
  while (q < line.size() && line[q] == ' ') ++q;
  if (q < line.size() && line[q] == '-') {
    ++q;
    while (q < line.size() && line[q] == ' ') ++q;
  }
  if (q == d) return false;  // digits glued to something
  pos = q;
  return true;
}

}  // namespace

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

Field Classify(std::string_view label) {
  const std::string f = Fold(label);
  if (f == "ORIGEM") return Field::kOrigin;
  if (f == "CLASSE") return Field::kClass;
  if (StartsWith(f, "ADVOGAD") || f == "ADV" || StartsWith(f, "REPRESENTANTES")) return Field::kLawyer;
  if (StartsWith(f, "PROCURADOR")) return Field::kProcurador;
  if (StartsWith(f, "DEFENSOR")) return Field::kDefensor;
  if (StartsWith(f, "RELATOR")) {
    if (f.find("ACORDAO") != std::string::npos) return Field::kJudgmentRapporteur;
    if (f == "RELATOR" || f == "RELATORA" || StartsWith(f, "RELATOR ORIGINARI") || f == "RELATOR(A)") {
      return Field::kRapporteur;
    }
    return Field::kIgnored;
  }
  static constexpr std::string_view kIgnored[] = {
      "REVISOR", "OBJETO", "OBSERVA", "SUSPEI", "IMPEDI", "DECIS", "SUSTENTA", "PRESIDENTE", "SECRETARI", "ASSUNTO",
      "VALOR", "DATA", "HORA", "LOCAL", "CNPJ", "CPF", "E-MAIL", "EMAIL", "SITE", "HTTP", "ASSINAM", "MARCA",
      "MODELO", "OBS", "FINALIDADE", "DESTINAT", "PROTOCOLO", "ACAO", "DISTRIBU", "REDISTRIBU", "INTERPOST",
      "PROCESSO", "ID ", "PRAZO", "VISTA", "INTIMAD", "JUIZ", "DESEMBARGADOR", "COMARCA", "VARA", "ORGAO"};
  for (auto i : kIgnored) {
    if (StartsWith(f, i)) return Field::kIgnored;
  }
  if (!StartsUpper(label)) return Field::kIgnored;
  for (char c : label) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (u >= 0x80) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' || c == '(' || c == ')' ||
              c == '/' || c == '-';
    if (!ok) return Field::kIgnored;
  }
  return Field::kParty;
}

std::string CleanClass(std::string_view text) {
  std::string s = Squash(text);
  // "(PJE)", "(7)": the system or the class's code, not its name.
  for (;;) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '-')) s.pop_back();
    if (s.empty() || s.back() != ')') break;
    size_t open = s.rfind('(');
    if (open == std::string::npos) break;
    std::string inner = Fold(std::string_view(s).substr(open + 1, s.size() - open - 2));
    bool code = !inner.empty() && std::all_of(inner.begin(), inner.end(), IsDigit);
    if (!code && inner != "PJE" && inner != "PJ-E") break;
    s.resize(open);
  }
  return s;
}

std::optional<Header> HeaderAt(std::string_view line, bool publication) {
  size_t pos = 0;
  const bool ordinal = SkipOrdinal(line, pos);
  // A publication's header may follow a long preamble on the same line.
  auto numbers = FindCnjNumbers(publication ? line : line.substr(0, std::min<size_t>(line.size(), 400)));
  if (numbers.empty()) return std::nullopt;
  const CnjMatch& m = numbers.front();
  const size_t at = m.offset;
  if (at < pos || (!publication && at - pos > 120)) return std::nullopt;
  std::string_view before = Trim(line.substr(pos, at - pos));
  std::string before_folded = Fold(before);
  // Keywords that only say "process number".
  bool keyword = false;
  for (std::string_view k : {"AUTOS N.", "AUTOS NO", "PROCESSO NO", "PROCESSO N.", "PROCESSO:", "PROCESSO"}) {
    if (before_folded == k) {
      keyword = true;
      before = {};
      break;
    }
  }
  // Words before the number make a header only after an ordinal ("02.
  // Agravo Interno n. <CNJ>"): in prose they are a citation.
  if (!before.empty() && !ordinal && !publication) return std::nullopt;
  std::string cls;
  if (!before.empty()) {
    // "Agravo Interno em Mandado de Segurança n." / "APELAÇÃO" before the number.
    std::string b(before);
    for (std::string_view tail : {" n.", " n\xC2\xBA", " N.", " N\xC2\xBA", " nº"}) {
      if (b.size() >= tail.size() && b.compare(b.size() - tail.size(), tail.size(), tail) == 0) {
        b.resize(b.size() - tail.size());
        break;
      }
    }
    if (publication) {
      // DJEN: "... DA MESMA: - 022. APELAÇÃO <CNJ>": the words after the last separator.
      size_t cut = b.find_last_of(":");
      if (cut != std::string::npos) b = std::string(Trim(std::string_view(b).substr(cut + 1)));
      size_t p = 0;
      SkipOrdinal(b, p);
      b = b.substr(p);
    }
    if (b.find(':') != std::string::npos || !StartsUpper(b)) return std::nullopt;
    for (char c : b) {
      if (IsDigit(c)) return std::nullopt;
    }
    cls = CleanClass(b);
  }
  std::string_view after = Trim(line.substr(at + m.length));
  if (cls.empty() && !after.empty()) {
    if (after[0] == '(') {  // "(processo principal ...)"
      size_t close = after.find(')');
      after = close == std::string_view::npos ? std::string_view{} : Trim(after.substr(close + 1));
    }
    if (StartsWith(after, "- ")) after = Trim(after.substr(2));
    size_t dash = after.find(" - ");
    std::string_view first = after.substr(0, dash);
    if (StartsUpper(first) && first.find(':') == std::string_view::npos) cls = CleanClass(first);
  }
  if (cls.empty() && !ordinal && !keyword && !publication) return std::nullopt;
  if (!before.empty() && cls.empty()) return std::nullopt;
  return Header{at, cls};
}

std::vector<Lawyer> SplitLawyers(std::string_view value, std::string_view kind) {
  std::vector<Lawyer> out;
  const std::string folded = Fold(value);
  if (folded.rfind("SEM ADVOGADO", 0) == 0 || folded.rfind("NAO CONSTA", 0) == 0) return out;
  auto clean = [](std::string_view s) {
    // Separators around a name: ", ", " e ", "(", "–", "-".
    for (;;) {
      s = Trim(s);
      if (StartsWith(s, ", ") || StartsWith(s, ") ") || StartsWith(s, ",") || StartsWith(s, ")")) s.remove_prefix(1);
      else if (StartsWith(s, "e ") || StartsWith(s, "E ")) s.remove_prefix(2);
      else if (StartsWith(s, "/")) s.remove_prefix(1);
      else break;
    }
    for (;;) {
      s = Trim(s);
      if (s.empty()) break;
      if (s.back() == '(' || s.back() == ',' || s.back() == '-') s.remove_suffix(1);
      else if (s.size() >= 3 && s.substr(s.size() - 3) == "\xE2\x80\x93") s.remove_suffix(3);
      else break;
    }
    return std::string(s);
  };
  const auto mentions = FindOabMentions(value);
  size_t from = 0;
  for (const auto& m : mentions) {
    std::string name = clean(value.substr(from, m.offset - from));
    from = m.offset + m.length;
    // "/O" and ")" after a registration belong to it.
    while (from < value.size() && (value[from] == ')' || value[from] == '/')) {
      if (value[from] == '/' && from + 1 < value.size() && value[from + 1] != ' ') from += 2;
      else ++from;
    }
    if (name.empty()) continue;
    Lawyer l;
    l.name = std::move(name);
    l.kind = std::string(kind);
    l.oab = m.oab;
    out.push_back(std::move(l));
  }
  if (mentions.empty()) {
    std::string name = clean(value);
    if (!name.empty()) out.push_back(Lawyer{.name = std::move(name), .kind = std::string(kind)});
  }
  return out;
}

std::optional<std::pair<std::string_view, bool>> DecisionStart(std::string_view line) {
  const std::string head = Fold(line.substr(0, 48));
  size_t skip = 0;
  while (skip < head.size() && (head[skip] == '"' || head[skip] == ' ')) ++skip;
  if (head.compare(skip, 7, "DECISAO") == 0) {
    const size_t colon = line.find(':');
    const size_t folded_colon = head.find(':');
    if (colon == std::string_view::npos || colon > 44 || folded_colon == std::string::npos) return std::nullopt;
    const std::string label = head.substr(0, folded_colon);
    // "DECISÃO:", "Decisão Parcial:", "DECISÃO PARCIAL EM 18/03/2025:"
    std::string rest = Squash(std::string_view(label).substr(skip + 7));
    if (!rest.empty() && rest.rfind("PARCIAL", 0) != 0 && rest.rfind("EM ", 0) != 0) return std::nullopt;
    return std::make_pair(Trim(line.substr(colon + 1)), rest.find("PARCIAL") != std::string::npos);
  }
  // "Sessão ... Decisão: ..." further into the line.
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

std::vector<std::string_view> SplitAtLabels(std::string_view line) {
  constexpr size_t kLong = 160;
  if (line.size() < kLong) return {line};
  static constexpr std::string_view kLabels[] = {
      "ADVOGADO:", "ADVOGADOS:", "ADVOGADA:", "ADV:", "APTE:", "APDO:", "AGTE:", "AGDO:", "Relator:", "RELATOR:",
      "RELATORA:", "Origem:", "ORIGEM:", "Assunto:", "A\xC3\xA7\xC3\xA3o:", "Protocolo:", "CLASSE:", "Classe:",
      "REPRESENTANTES POLO ATIVO:", "REPRESENTANTES POLO PASSIVO:", "POLO ATIVO:", "POLO PASSIVO:",
      "Destinat\xC3\xA1rios:", "FINALIDADE:", "OBSERVA\xC3\x87\xC3\x83O:", "AUTOR:", "R\xC3\x89U:", "PROCESSO:",
      "AGRAVANTE:", "AGRAVADO:", "EMBARGANTE:", "EMBARGADO:", "IMPETRANTE:", "IMPETRADO:"};
  std::vector<size_t> cuts;
  for (auto label : kLabels) {
    size_t pos = 0;
    while ((pos = line.find(label, pos)) != std::string_view::npos) {
      // Whole words only: "REPRESENTANTES POLO ATIVO:" is not "POLO ATIVO:".
      const bool start = pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == ')' ||
                         (pos >= 2 && line.substr(pos - 2, 2) == "- ");
      bool inside = false;
      for (std::string_view longer : {"REPRESENTANTES "}) {
        if (pos >= longer.size() && line.substr(pos - longer.size(), longer.size()) == longer) inside = true;
      }
      if (start && !inside && pos > 0) cuts.push_back(line[pos - 1] == ' ' && pos >= 2 && line[pos - 2] == '-' ? pos - 2 : pos);
      pos += label.size();
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<std::string_view> out;
  size_t from = 0;
  for (size_t c : cuts) {
    if (c > from) out.push_back(Trim(line.substr(from, c - from)));
    from = c;
  }
  out.push_back(Trim(line.substr(from)));
  // "- ADV:" keeps its dash on the next piece: drop it.
  for (auto& piece : out) {
    if (StartsWith(piece, "- ")) piece.remove_prefix(2);
  }
  return out;
}

}  // namespace fila::diario::fields
