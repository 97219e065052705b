#pragma once

// Normalises the wording of a judgment ("RECURSO NÃO PROVIDO, À
// UNANIMIDADE", "deram parcial provimento ao apelo") into one outcome code.
// Pure; thread-safe.

#include <string>
#include <string_view>

namespace fila::diario {

enum class Outcome {
  kUnknown,               // no decision text, or wording not recognised
  kProvido,
  kParcialmenteProvido,
  kNaoProvido,
  kNaoConhecido,
  kPrejudicado,
  kExtinto,
  kProcedente,
  kParcialmenteProcedente,
  kImprocedente,
  kDeferido,
  kIndeferido,
  kConcedido,
  kDenegado,
  kHomologado,
  kAcolhido,
  kRejeitado,
  kMantido,    // "sentença confirmada/mantida"
  kAdiado,     // judgment not finished: adiado, suspended ("decisão parcial")
  kAprovado,
  kPedidoDeVista,          // not finished: a judge asked to see the case
  kRetiradoDePauta,        // taken off the agenda
  kCompetenciaDeclarada,   // conflict of competence: a court declared competent (named in the text)
};

// The last enumerator (keep it so), for going through every code.
inline constexpr Outcome kLastOutcome = Outcome::kCompetenciaDeclarada;

// Stable code stored in the database: "provido", "parcialmente_provido",
// "nao_provido", ..., "desconhecido".
std::string_view OutcomeCode(Outcome outcome);

// The outcome of the decision `text`. The merits ("NO MÉRITO, ...") win over
// preliminaries; a dissent ("VENCIDO ...") is ignored; an unfinished
// judgment (a request for "vista") is kPedidoDeVista whatever the votes so
// far. The vocabulary (phrase pattern -> code) is docs/diario-outcomes.md.
Outcome NormaliseOutcome(std::string_view text);

}  // namespace fila::diario
