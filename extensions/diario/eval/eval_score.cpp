#include "eval_score.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fila/core/errors.h"
#include "fila/diario/extractor.h"
#include "fila/diario/text.h"
#include "fila/diario/tribunal.h"

namespace fila::diario::eval {
namespace {

std::string Key(std::string_view s) { return Squash(Fold(s)); }

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PermanentError("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Items of a list field, folded, as a multiset.
std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

int Common(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return static_cast<int>(both.size());
}

struct Want {
  std::string number, cls, rapporteur, outcome;  // folded; outcome "" = no judgment
  std::vector<std::string> parties, lawyers;
};

struct Got {
  std::string number, cls, rapporteur, outcome;
  std::vector<std::string> parties, lawyers;
};

Want ReadWant(const nlohmann::json& e) {
  Want w;
  w.number = e.at("number").get<std::string>();
  w.cls = Key(e.value("class", ""));
  std::string r = Key(e.value("rapporteur", ""));
  std::string jr = Key(e.value("judgment_rapporteur", ""));
  w.rapporteur = r.empty() && jr.empty() ? "" : r + "|" + jr;
  w.outcome = e.at("outcome").is_null() ? "" : e.at("outcome").get<std::string>();
  for (const auto& p : e.value("parties", nlohmann::json::array())) {
    w.parties.push_back(Key(p.at(0).get<std::string>()) + "|" + Key(p.at(1).get<std::string>()));
  }
  for (const auto& l : e.value("lawyers", nlohmann::json::array())) {
    w.lawyers.push_back(Key(l.at(0).get<std::string>()) + "|" + l.at(1).get<std::string>());
  }
  w.parties = Sorted(std::move(w.parties));
  // A lawyer named twice in one entry is one lawyer.
  w.lawyers = Sorted(std::move(w.lawyers));
  w.lawyers.erase(std::unique(w.lawyers.begin(), w.lawyers.end()), w.lawyers.end());
  return w;
}

Got ToGot(const Decision& d) {
  Got g;
  g.number = d.process_number;
  g.cls = Key(d.process_class);
  std::string r = Key(d.rapporteur);
  std::string jr = Key(d.judgment_rapporteur);
  g.rapporteur = r.empty() && jr.empty() ? "" : r + "|" + jr;
  g.outcome = d.HasDecision() ? std::string(OutcomeCode(d.outcome)) : "";
  for (const auto& p : d.parties) g.parties.push_back(Key(p.role) + "|" + Key(p.name));
  for (const auto& l : d.lawyers) g.lawyers.push_back(Key(l.name) + "|" + (l.oab ? l.oab->Formatted() : ""));
  g.parties = Sorted(std::move(g.parties));
  g.lawyers = Sorted(std::move(g.lawyers));
  g.lawyers.erase(std::unique(g.lawyers.begin(), g.lawyers.end()), g.lawyers.end());
  return g;
}

}  // namespace

const std::vector<std::string>& FieldNames() {
  static const std::vector<std::string> kNames = {"numbers", "entries", "class", "parties",
                                                  "lawyers+oab", "rapporteur", "outcome"};
  return kNames;
}

Scores ScoreDocument(const std::filesystem::path& json_path) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ReadFile(json_path));
  } catch (const nlohmann::json::exception& e) {
    throw PermanentError(json_path.string() + ": " + e.what());
  }
  const std::string text = ReadFile(json_path.parent_path() / doc.at("input").get<std::string>());
  const std::string tribunal = doc.value("tribunal", "tjro");
  ExtractOptions options;
  if (tribunal == "djen") options.page_is_publication = true;
  else options = MakeTribunal(tribunal)->Extraction();
  const Extraction found = ExtractDecisions(SplitPages(text), options);

  Scores s;
  for (const auto& name : FieldNames()) s[name];
  {
    std::vector<std::string> want, got;
    for (const auto& n : doc.at("numbers")) want.push_back(n.at(0).get<std::string>() + "@" + std::to_string(n.at(1).get<int>()));
    for (const auto& n : found.numbers) got.push_back(n.number + "@" + std::to_string(n.page));
    want = Sorted(want);
    got = Sorted(got);
    s["numbers"] = {Common(want, got), static_cast<int>(got.size()), static_cast<int>(want.size())};
  }
  std::vector<Want> wants;
  for (const auto& e : doc.at("entries")) wants.push_back(ReadWant(e));
  std::vector<Got> gots;
  for (const auto& d : found.decisions) gots.push_back(ToGot(d));
  // The i-th annotated entry of a number goes with the i-th extracted one.
  std::vector<bool> used(gots.size(), false);
  for (const auto& g : gots) {
    if (!g.cls.empty()) ++s["class"].extracted;
    if (!g.rapporteur.empty()) ++s["rapporteur"].extracted;
    if (!g.outcome.empty()) ++s["outcome"].extracted;
    s["parties"].extracted += static_cast<int>(g.parties.size());
    s["lawyers+oab"].extracted += static_cast<int>(g.lawyers.size());
  }
  s["entries"].extracted = static_cast<int>(gots.size());
  for (const auto& w : wants) {
    ++s["entries"].annotated;
    if (!w.cls.empty()) ++s["class"].annotated;
    if (!w.rapporteur.empty()) ++s["rapporteur"].annotated;
    if (!w.outcome.empty()) ++s["outcome"].annotated;
    s["parties"].annotated += static_cast<int>(w.parties.size());
    s["lawyers+oab"].annotated += static_cast<int>(w.lawyers.size());
    const Got* g = nullptr;
    for (size_t i = 0; i < gots.size(); ++i) {
      if (!used[i] && gots[i].number == w.number) {
        used[i] = true;
        g = &gots[i];
        break;
      }
    }
    if (g == nullptr) continue;
    ++s["entries"].correct;
    if (!w.cls.empty() && g->cls == w.cls) ++s["class"].correct;
    if (!w.rapporteur.empty() && g->rapporteur == w.rapporteur) ++s["rapporteur"].correct;
    if (!w.outcome.empty() && g->outcome == w.outcome) ++s["outcome"].correct;
    s["parties"].correct += Common(w.parties, g->parties);
    s["lawyers+oab"].correct += Common(w.lawyers, g->lawyers);
  }
  return s;
}

Scores ScoreFolder(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (files.empty()) throw PermanentError("no annotated documents (*.json) in " + dir.string());
  std::sort(files.begin(), files.end());
  Scores total;
  for (const auto& f : files) {
    for (const auto& [name, t] : ScoreDocument(f)) total[name].Add(t);
  }
  return total;
}

}  // namespace fila::diario::eval
