// CNJ numbers, OAB registrations, outcome wording and the LLM's JSON:
// the pure parts of diario.process.
#include <gtest/gtest.h>

#include "fila/core/errors.h"
#include "fila/diario/cnj.h"
#include "fila/diario/llm_json.h"
#include "fila/diario/oab.h"
#include "fila/diario/outcome.h"
#include "fila/diario/tribunal.h"

namespace fila::diario {
namespace {

TEST(DiarioCnj, WorkedExampleOfTheResolution) {
  // cnj_mod97.md: 7049088-95.2020.8.22.0001, remainders 1, 0, 3.
  EXPECT_EQ(CnjCheckDigits("7049088", "2020", "8", "22", "0001"), "95");
  auto n = ParseCnj("7049088-95.2020.8.22.0001");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->Valid());
  EXPECT_EQ(n->Formatted(), "7049088-95.2020.8.22.0001");
}

TEST(DiarioCnj, CheckDigitsWithALeadingZero) {
  for (const char* s : {"1011740-08.2017.8.22.0501", "7011797-04.2024.8.22.0007",
                        "7075027-09.2022.8.22.0001"}) {
    auto n = ParseCnj(s);
    ASSERT_TRUE(n) << s;
    EXPECT_TRUE(n->Valid()) << s;
    EXPECT_EQ(CnjCheckDigits(n->sequential, n->year, n->branch, n->court, n->origin), n->check) << s;
  }
}

TEST(DiarioCnj, WrongCheckDigitsAreInvalid) {
  auto n = ParseCnj("7049088-96.2020.8.22.0001");
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->Valid());
  // One digit of the sequential number changed.
  EXPECT_FALSE(ParseCnj("7049089-95.2020.8.22.0001")->Valid());
  // Digits moved: same digits, different number.
  EXPECT_FALSE(ParseCnj("7049088-95.2020.8.22.1000")->Valid());
}

TEST(DiarioCnj, NotANumber) {
  EXPECT_FALSE(ParseCnj(""));
  EXPECT_FALSE(ParseCnj("84.753.102/0001-78"));
  EXPECT_FALSE(ParseCnj("7049088-95.2020.8.22.000"));
  EXPECT_FALSE(ParseCnj("7049088-95.2020.8.22.00011"));
  EXPECT_FALSE(ParseCnj("70490880-95.2020.8.22.0001"));
}

TEST(DiarioCnj, FindsNumbersBrokenAcrossLinesAndOddlySpaced) {
  const std::string text =
      "Agravo de Instrumento n. 0810430-\n52.2024.8.22.0000.\n"
      "TST: 0064400- 42.1997.5.20.0003 e SEI 0011157-66.2025.822.8000; "
      "sem hífen 000695983.2025.8.22.8000 e CNPJ 84.753.102/0001-78.";
  auto found = FindCnjNumbers(text);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].number.Formatted(), "0810430-52.2024.8.22.0000");
  EXPECT_EQ(found[1].number.Formatted(), "0064400-42.1997.5.20.0003");
  EXPECT_EQ(found[2].number.Formatted(), "0011157-66.2025.8.22.8000");
  EXPECT_EQ(found[3].number.Formatted(), "0006959-83.2025.8.22.8000");
  for (const auto& m : found) EXPECT_TRUE(m.valid) << m.number.Formatted();
  EXPECT_EQ(text.substr(found[0].offset, found[0].length), "0810430-\n52.2024.8.22.0000");
}

TEST(DiarioCnj, InvalidMatchesAreReportedAsInvalid) {
  auto found = FindCnjNumbers("n. 7049088-95.2020.8.22.0001 e n. 7049088-11.2020.8.22.0001");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(found[0].valid);
  EXPECT_FALSE(found[1].valid);
}

TEST(DiarioCnj, LongerDigitRunsAreNotNumbers) {
  EXPECT_TRUE(FindCnjNumbers("12345678901-95.2020.8.22.0001").empty());
  EXPECT_TRUE(FindCnjNumbers("7049088-95.2020.8.22.00012").empty());
}

TEST(DiarioOab, CommonForms) {
  auto a = ParseOab("OAB/RO 1234");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state, "RO");
  EXPECT_EQ(a->number, "1234");
  EXPECT_EQ(a->suffix, "");
  EXPECT_EQ(ParseOab("OAB/RO 6.387")->number, "6387");
  EXPECT_EQ(ParseOab("OAB/MG 130.440")->Formatted(), "MG 130440");
  EXPECT_EQ(ParseOab("OAB-RO 34-A")->Formatted(), "RO 34A");
  EXPECT_EQ(ParseOab("OAB/SP 62263B")->Formatted(), "SP 62263B");
  EXPECT_EQ(ParseOab("OAB/RO n\xC2\xBA 1234")->Formatted(), "RO 1234");
  EXPECT_EQ(ParseOab("OAB 1234/RO")->Formatted(), "RO 1234");
  EXPECT_EQ(ParseOab("oab/ro 0045")->Formatted(), "RO 45");
}

TEST(DiarioOab, RejectsWhatIsNotARegistration) {
  EXPECT_FALSE(ParseOab("OAB/XX 1234"));  // no such state
  EXPECT_FALSE(ParseOab("OAB/RO"));
  EXPECT_FALSE(ParseOab("OAB/RO abc"));
  EXPECT_FALSE(ParseOab("OAB/RO 123456789"));
  EXPECT_FALSE(ParseOab("OAB/RO 1234 tail"));
}

TEST(DiarioOab, FindsSeveralInALine) {
  auto found = FindOabNumbers(
      "Fulano (OAB/RO 3525) e Beltrana (OAB/PE 11.338), Sicrano (OAB/RO 34-A); NOAB 9");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].Formatted(), "RO 3525");
  EXPECT_EQ(found[1].Formatted(), "PE 11338");
  EXPECT_EQ(found[2].Formatted(), "RO 34A");
}

TEST(DiarioOutcome, NormalisesTheWordings) {
  EXPECT_EQ(NormaliseOutcome("RECURSO PROVIDO, À UNANIMIDADE."), Outcome::kProvido);
  EXPECT_EQ(NormaliseOutcome("RECURSO NÃO PROVIDO, À UNANIMIDADE."), Outcome::kNaoProvido);
  EXPECT_EQ(NormaliseOutcome("EMBARGOS NÃO PROVIDOS, À UNANIMIDADE."), Outcome::kNaoProvido);
  EXPECT_EQ(NormaliseOutcome("REJEITADAS AS PRELIMINARES. NO MÉRITO, RECURSOS PARCIALMENTE "
                             "PROVIDOS, À UNANIMIDADE."),
            Outcome::kParcialmenteProvido);
  EXPECT_EQ(NormaliseOutcome("deram parcial provimento ao apelo"), Outcome::kParcialmenteProvido);
  EXPECT_EQ(NormaliseOutcome("Negaram provimento ao recurso"), Outcome::kNaoProvido);
  EXPECT_EQ(NormaliseOutcome("recurso desprovido"), Outcome::kNaoProvido);
  EXPECT_EQ(NormaliseOutcome("Julgo extinto o processo sem resolução do mérito"), Outcome::kExtinto);
  EXPECT_EQ(NormaliseOutcome("SENTENÇA CONFIRMADA, À UNANIMIDADE."), Outcome::kMantido);
  EXPECT_EQ(NormaliseOutcome("PEDIDO JULGADO IMPROCEDENTE"), Outcome::kImprocedente);
  EXPECT_EQ(NormaliseOutcome("ORDEM DENEGADA"), Outcome::kDenegado);
  EXPECT_EQ(NormaliseOutcome("ORDEM CONCEDIDA"), Outcome::kConcedido);
  EXPECT_EQ(NormaliseOutcome(""), Outcome::kUnknown);
  EXPECT_EQ(NormaliseOutcome("texto qualquer"), Outcome::kUnknown);
}

TEST(DiarioOutcome, MeritsWinOverPreliminariesAndDissentsAreIgnored) {
  EXPECT_EQ(NormaliseOutcome("REJEITADA A PRELIMINAR. NO MÉRITO, RECURSO NÃO PROVIDO."),
            Outcome::kNaoProvido);
  EXPECT_EQ(NormaliseOutcome("REJEITADA A PRELIMINAR DA DIALETICIDADE. NO MÉRITO, DEU-SE PROVIMENTO "
                             "AO RECURSO, POR MAIORIA, VENCIDO O RELATOR, QUE NEGAVA PROVIMENTO."),
            Outcome::kProvido);
  EXPECT_EQ(NormaliseOutcome("ACOLHIDA A PRELIMINAR DE NÃO CONHECIMENTO DO RECURSO E AGRAVO "
                             "INTERNO PREJUDICADO, À UNANIMIDADE."),
            Outcome::kNaoConhecido);
  EXPECT_EQ(NormaliseOutcome("RECURSO PROVIDO E AGRAVO INTERNO PREJUDICADO"), Outcome::kProvido);
  EXPECT_EQ(NormaliseOutcome("APROVADAS AS RECONVOCAÇÕES, POR MAIORIA. VENCIDO O DESEMBARGADOR, QUE "
                             "VOTOU PELA NÃO HOMOLOGAÇÃO."),
            Outcome::kAprovado);
}

TEST(DiarioOutcome, AnUnfinishedJudgmentIsNotAnOutcome) {
  EXPECT_EQ(NormaliseOutcome("APÓS VOTO DO RELATOR, NEGANDO PROVIMENTO AO RECURSO, PEDIU VISTA O JUIZ"),
            Outcome::kPedidoDeVista);
  EXPECT_EQ(NormaliseOutcome("RETIRADO DE PAUTA A PEDIDO DO RELATOR."), Outcome::kRetiradoDePauta);
  EXPECT_EQ(NormaliseOutcome("ADIADO A PEDIDO DO ADVOGADO."), Outcome::kAdiado);
  EXPECT_EQ(OutcomeCode(Outcome::kAdiado), "adiado");
  EXPECT_EQ(OutcomeCode(Outcome::kNaoProvido), "nao_provido");
  EXPECT_EQ(OutcomeCode(Outcome::kUnknown), "desconhecido");
  EXPECT_EQ(OutcomeCode(Outcome::kPedidoDeVista), "pedido_de_vista");
}

TEST(DiarioOutcome, VocabularyOfIssue22) {
  EXPECT_EQ(NormaliseOutcome("EMBARGOS CONHECIDOS PARA REJEITÁ-LOS, À UNANIMIDADE."), Outcome::kRejeitado);
  EXPECT_EQ(NormaliseOutcome("EMBARGOS ACOLHIDOS, SEM EFEITOS INFRINGENTES."), Outcome::kAcolhido);
  EXPECT_EQ(NormaliseOutcome("CONFLITO CONHECIDO E DECLARADO COMPETENTE O JUÍZO DA 2ª VARA CÍVEL DE ARIQUEMES."),
            Outcome::kCompetenciaDeclarada);
  EXPECT_EQ(NormaliseOutcome("ORDEM CONCEDIDA NOS TERMOS DO VOTO DO RELATOR."), Outcome::kConcedido);
  EXPECT_EQ(NormaliseOutcome("SEGURANÇA DENEGADA À UNANIMIDADE."), Outcome::kDenegado);
  EXPECT_EQ(NormaliseOutcome("ACORDO HOMOLOGADO."), Outcome::kHomologado);
  EXPECT_EQ(NormaliseOutcome("PROCESSO EXTINTO SEM RESOLUÇÃO DO MÉRITO."), Outcome::kExtinto);
  EXPECT_EQ(NormaliseOutcome("RECURSO PREJUDICADO."), Outcome::kPrejudicado);
  EXPECT_EQ(NormaliseOutcome("PEDIDO JULGADO IMPROCEDENTE."), Outcome::kImprocedente);
  EXPECT_EQ(NormaliseOutcome("LIMINAR INDEFERIDA."), Outcome::kIndeferido);
}

TEST(DiarioLlmJson, FencedAndWithProse) {
  auto d = ParseLlmDecisions(
      "Here you go:\n```json\n{\"decisions\":[{\"process_number\":\"7049088-95.2020.8.22.0001\","
      "\"outcome\":\"provido\",\"lawyers\":[{\"name\":\"A\",\"oab\":\"OAB/RO 1234\"}]}]}\n```\nBye");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].process_number, "7049088-95.2020.8.22.0001");
  ASSERT_EQ(d[0].lawyers.size(), 1u);
  ASSERT_TRUE(d[0].lawyers[0].oab);
  EXPECT_EQ(d[0].lawyers[0].oab->Formatted(), "RO 1234");
}

TEST(DiarioLlmJson, TruncatedOutputKeepsTheCompleteElements) {
  auto d = ParseLlmDecisions(
      "{\"decisions\":[{\"process_number\":\"1\",\"outcome\":\"provido\"},"
      "{\"process_number\":\"2\",\"outcome\":\"nao pro");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].outcome, "provido");
  EXPECT_EQ(d[1].process_number, "2");
  auto e = ParseLlmDecisions("[{\"process_number\":\"1\"},{\"process_number\":");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].process_number, "1");
  EXPECT_TRUE(ParseLlmDecisions("no json here").empty());
  EXPECT_TRUE(ParseLlmDecisions("").empty());
  EXPECT_FALSE(RecoverJson("{{{{"));
}

TEST(DiarioTribunal, DatesAndUrls) {
  EXPECT_EQ(Date::Parse("2024-02-29").Next().Iso(), "2024-03-01");
  EXPECT_EQ(Date::Parse("2024-12-31").Next().Iso(), "2025-01-01");
  EXPECT_THROW(Date::Parse("2023-02-29"), PermanentError);
  EXPECT_THROW(Date::Parse("2024-13-01"), PermanentError);
  EXPECT_THROW(Date::Parse("20240101"), PermanentError);
  auto t = MakeTribunal("TJRO", {{"tjro", "http://h/{yyyy}/{mm}/{dd}/{yyyymmdd}.pdf"}});
  EXPECT_EQ(t->GazetteUrl(Date::Parse("2024-07-20")), "http://h/2024/07/20/20240720.pdf");
  EXPECT_THROW(MakeTribunal("tjxx"), PermanentError);
}

}  // namespace
}  // namespace fila::diario
