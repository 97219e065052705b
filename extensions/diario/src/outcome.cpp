#include "fila/diario/outcome.h"

#include <utility>

#include "fila/diario/text.h"

namespace fila::diario {
namespace {

bool Has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// The part that decides: after "NO MERITO", before "VENCIDO".
std::string Decisive(std::string folded) {
  if (auto pos = folded.rfind("NO MERITO"); pos != std::string::npos) folded = folded.substr(pos);
  for (std::string_view cut : {"VENCID", "VOTO DIVERGENTE"}) {
    if (auto pos = folded.find(cut); pos != std::string::npos && pos > 0) folded.resize(pos);
  }
  return folded;
}

}  // namespace

std::string_view OutcomeCode(Outcome outcome) {
  switch (outcome) {
    case Outcome::kProvido: return "provido";
    case Outcome::kParcialmenteProvido: return "parcialmente_provido";
    case Outcome::kNaoProvido: return "nao_provido";
    case Outcome::kNaoConhecido: return "nao_conhecido";
    case Outcome::kPrejudicado: return "prejudicado";
    case Outcome::kExtinto: return "extinto";
    case Outcome::kProcedente: return "procedente";
    case Outcome::kParcialmenteProcedente: return "parcialmente_procedente";
    case Outcome::kImprocedente: return "improcedente";
    case Outcome::kDeferido: return "deferido";
    case Outcome::kIndeferido: return "indeferido";
    case Outcome::kConcedido: return "concedido";
    case Outcome::kDenegado: return "denegado";
    case Outcome::kHomologado: return "homologado";
    case Outcome::kAcolhido: return "acolhido";
    case Outcome::kRejeitado: return "rejeitado";
    case Outcome::kMantido: return "mantido";
    case Outcome::kAdiado: return "adiado";
    case Outcome::kAprovado: return "aprovado";
    case Outcome::kPedidoDeVista: return "pedido_de_vista";
    case Outcome::kRetiradoDePauta: return "retirado_de_pauta";
    case Outcome::kCompetenciaDeclarada: return "competencia_declarada";
    case Outcome::kUnknown: break;
  }
  return "desconhecido";
}

Outcome NormaliseOutcome(std::string_view text) {
  const std::string all = Squash(Fold(text));
  if (all.empty()) return Outcome::kUnknown;
  if (Has(all, "PEDIU VISTA") || Has(all, "PEDIDO DE VISTA") || Has(all, "VISTA AO ") ||
      Has(all, "VISTA A DES") || Has(all, "VISTA DO DES")) {
    return Outcome::kPedidoDeVista;
  }
  if (Has(all, "RETIRADO DE PAUTA") || Has(all, "RETIRADO DA PAUTA") || Has(all, "RETIRADOS DE PAUTA")) {
    return Outcome::kRetiradoDePauta;
  }
  if (Has(all, "ADIAD") || Has(all, "JULGAMENTO FOI SUSPENSO") || Has(all, "JULGAMENTO SUSPENSO")) {
    return Outcome::kAdiado;
  }
  const std::string s = Decisive(all);
  // Order matters: the longer, more specific wordings first.
  static const std::pair<std::string_view, Outcome> kRules[] = {
      {"DECLARADO COMPETENTE", Outcome::kCompetenciaDeclarada},
      {"DECLARADA COMPETENTE", Outcome::kCompetenciaDeclarada},
      {"DECLARAR COMPETENTE", Outcome::kCompetenciaDeclarada},
      {"COMPETENCIA DO JUIZO", Outcome::kCompetenciaDeclarada},
      {"PARA REJEITA", Outcome::kRejeitado},
      {"PARA ACOLHE", Outcome::kAcolhido},
      {"PARCIALMENTE PROVID", Outcome::kParcialmenteProvido},
      {"PROVIDO EM PARTE", Outcome::kParcialmenteProvido},
      {"PROVIDOS EM PARTE", Outcome::kParcialmenteProvido},
      {"PROVIDA EM PARTE", Outcome::kParcialmenteProvido},
      {"PARCIAL PROVIMENTO", Outcome::kParcialmenteProvido},
      {"PROVIMENTO PARCIAL", Outcome::kParcialmenteProvido},
      {"NAO PROVID", Outcome::kNaoProvido},
      {"DESPROVID", Outcome::kNaoProvido},
      {"IMPROVID", Outcome::kNaoProvido},
      {"NEGO PROVIMENTO", Outcome::kNaoProvido},
      {"NEGARAM PROVIMENTO", Outcome::kNaoProvido},
      {"NEGOU-SE PROVIMENTO", Outcome::kNaoProvido},
      {"NEGOU PROVIMENTO", Outcome::kNaoProvido},
      {"NEGADO PROVIMENTO", Outcome::kNaoProvido},
      {"NEGAR PROVIMENTO", Outcome::kNaoProvido},
      {"NEGANDO PROVIMENTO", Outcome::kNaoProvido},
      {"NAO CONHEC", Outcome::kNaoConhecido},
      {"INADMITID", Outcome::kNaoConhecido},
      {"PROVID", Outcome::kProvido},
      {"DOU PROVIMENTO", Outcome::kProvido},
      {"DAR PROVIMENTO", Outcome::kProvido},
      {"DANDO PROVIMENTO", Outcome::kProvido},
      {"DERAM PROVIMENTO", Outcome::kProvido},
      {"DEU-SE PROVIMENTO", Outcome::kProvido},
      {"DEU PROVIMENTO", Outcome::kProvido},
      {"DADO PROVIMENTO", Outcome::kProvido},
      {"EXTINT", Outcome::kExtinto},
      {"PARCIALMENTE PROCEDENTE", Outcome::kParcialmenteProcedente},
      {"PROCEDENTE EM PARTE", Outcome::kParcialmenteProcedente},
      {"IMPROCEDENTE", Outcome::kImprocedente},
      {"PROCEDENTE", Outcome::kProcedente},
      {"INDEFERID", Outcome::kIndeferido},
      {"DEFERID", Outcome::kDeferido},
      {"DENEGAD", Outcome::kDenegado},
      {"DENEGO", Outcome::kDenegado},
      {"CONCEDID", Outcome::kConcedido},
      {"CONCEDO", Outcome::kConcedido},
      {"NAO HOMOLOG", Outcome::kRejeitado},
      {"HOMOLOG", Outcome::kHomologado},
      {"CONFIRMAD", Outcome::kMantido},
      {"MANTID", Outcome::kMantido},
      {"PREJUDICAD", Outcome::kPrejudicado},
      {"EMBARGOS ACOLHID", Outcome::kAcolhido},
      {"EMBARGOS REJEITAD", Outcome::kRejeitado},
      {"ACOLHEU", Outcome::kAcolhido},
      {"ACOLHID", Outcome::kAcolhido},
      {"APROVAD", Outcome::kAprovado},
      {"REJEITAD", Outcome::kRejeitado},
      {"REJEITO", Outcome::kRejeitado},
      {"REJEITAR", Outcome::kRejeitado},
      {"ACOLHO", Outcome::kAcolhido},
      {"ORDEM CONCEDIDA", Outcome::kConcedido},
      {"ORDEM DENEGADA", Outcome::kDenegado},
      {"ARQUIVAD", Outcome::kExtinto},
      {"PERDA DO OBJETO", Outcome::kPrejudicado},
      {"DESISTENCIA", Outcome::kExtinto},
  };
  // "não conhecimento" as a preliminary that was upheld ends the appeal.
  if (!Has(all, "NO MERITO") && Has(s, "ACOLHIDA A PRELIMINAR DE NAO CONHECIMENTO")) {
    return Outcome::kNaoConhecido;
  }
  // Preliminaries rejected without merits ("REJEITADA A PRELIMINAR.") are
  // not the outcome when something else was decided after them.
  std::string body = s;
  for (std::string_view pre : {"REJEITADAS AS PRELIMINARES", "REJEITADA A PRELIMINAR",
                               "PRELIMINARES REJEITADAS", "PRELIMINAR REJEITADA"}) {
    if (auto pos = body.find(pre); pos != std::string::npos) body.erase(pos, pre.size());
  }
  for (const auto& [needle, outcome] : kRules) {
    if (Has(body, needle)) return outcome;
  }
  for (const auto& [needle, outcome] : kRules) {
    if (Has(s, needle)) return outcome;
  }
  return Outcome::kUnknown;
}

}  // namespace fila::diario
