// Docket-entry formats of TJRO gazettes and DJEN publications, found by
// structure (issue 22): texts written like the real ones, one per format.
#include <gtest/gtest.h>

#include <string>

#include "fila/diario/extractor.h"
#include "fila/diario/tribunal.h"

namespace fila::diario {
namespace {

Extraction Parse(const std::string& text, bool publication = false) {
  ExtractOptions options;
  options.page_is_publication = publication;
  return ExtractDecisions(SplitPages(text), options);
}

TEST(DiarioFormats, UpperCaseAgendaEntryWithPartialDecision) {
  const auto r = Parse(
      "03. AUTOS N. 7002717-13.2024.8.22.0008 APELA\xC3\x87\xC3\x83O (PJE)\n"
      "ORIGEM: 7002717-13.2024.8.22.0008 - ESPIG\xC3\x83O DO OESTE / 1\xC2\xAA VARA GEN\xC3\x89RICA\n"
      "APELANTE: EVANDRA ESTRELOW\n"
      "ADVOGADO(A): AMANDA MENDES GARCIA \xE2\x80\x93 RO 9946\n"
      "APELADO(A): BANCO BMG S.A.\n"
      "ADVOGADO(A):RENATO CHAGAS CORREA DA SILVA \xE2\x80\x93 RO8768\n"
      "RELATOR: DESEMBARGADOR ROWILSON TEIXEIRA\n"
      "DECIS\xC3\x83O PARCIAL EM 21/02/2025: AP\xC3\x93S O VOTO DO RELATOR, O JULGAMENTO FOI SUSPENSO.\n");
  ASSERT_EQ(r.decisions.size(), 1u);
  const Decision& d = r.decisions[0];
  EXPECT_EQ(d.process_number, "7002717-13.2024.8.22.0008");
  EXPECT_EQ(d.process_class, "APELA\xC3\x87\xC3\x83O");
  ASSERT_EQ(d.lawyers.size(), 2u);
  EXPECT_EQ(d.lawyers[0].name, "AMANDA MENDES GARCIA");
  ASSERT_TRUE(d.lawyers[0].oab.has_value());
  EXPECT_EQ(d.lawyers[0].oab->Formatted(), "RO 9946");
  EXPECT_EQ(d.lawyers[1].oab->Formatted(), "RO 8768");
  EXPECT_EQ(d.lawyers[1].party, 1);
  EXPECT_EQ(d.rapporteur, "DESEMBARGADOR ROWILSON TEIXEIRA");
  EXPECT_TRUE(d.partial);
  EXPECT_EQ(d.outcome, Outcome::kAdiado);
}

TEST(DiarioFormats, SessionMinutesWithClassLineAndWrappedLawyers) {
  const auto r = Parse(
      "01 - 7014031-74.2024.8.22.0001\n"
      "Classe: Embargos de Declara\xC3\xA7\xC3\xA3o\n"
      "Embargante: JOAO MARCOS ROCHA LOPES\n"
      "Advogado(a): PATRICK DE SOUZA CORREA, OAB n\xC2\xBA RO9121A, S\xC3\x89RGIO MARCELO\n"
      "FREITAS, OAB n\xC2\xBA RO9667A\n"
      "Relator: Juiz de Direito ENIO SALVADOR VAZ\n"
      "DECIS\xC3\x83O: EMBARGOS CONHECIDOS E REJEITADOS \xC3\x80 UNANIMIDADE.\n");
  ASSERT_EQ(r.decisions.size(), 1u);
  const Decision& d = r.decisions[0];
  EXPECT_EQ(d.process_class, "Embargos de Declara\xC3\xA7\xC3\xA3o");
  ASSERT_EQ(d.lawyers.size(), 2u);
  EXPECT_EQ(d.lawyers[1].name, "S\xC3\x89RGIO MARCELO FREITAS");
  EXPECT_EQ(d.lawyers[1].oab->Formatted(), "RO 9667A");
  EXPECT_EQ(d.outcome, Outcome::kRejeitado);
}

TEST(DiarioFormats, RapporteurOfTheJudgmentWhenItDiffers) {
  const auto r = Parse(
      "05. Direta de Inconstitucionalidade n. 0820064-72.2024.8.22.0000\n"
      "Requerente: Governador do Estado de Rond\xC3\xB4nia\n"
      "Advogados (as): Ana Souza (OAB/RO 12.814) e Clara Rocha (OAB/\n"
      "Relator Origin\xC3\xA1rio: Desembargador Isaias Fonseca Moraes\n"
      "Relator p/ Ac\xC3\xB3rd\xC3\xA3o: Desembargador Hiram Souza Marques\n"
      "Decis\xC3\xA3o: \xE2\x80\x9CJULGADA PROCEDENTE, POR MAIORIA.\xE2\x80\x9D\n");
  ASSERT_EQ(r.decisions.size(), 1u);
  const Decision& d = r.decisions[0];
  EXPECT_EQ(d.rapporteur, "Desembargador Isaias Fonseca Moraes");
  EXPECT_EQ(d.judgment_rapporteur, "Desembargador Hiram Souza Marques");
  EXPECT_EQ(d.outcome, Outcome::kProcedente);
  ASSERT_GE(d.lawyers.size(), 1u);
  EXPECT_EQ(d.lawyers[0].oab->Formatted(), "RO 12814");
}

TEST(DiarioFormats, ProseCitationIsNoEntry) {
  const auto r = Parse("Declara\xC3\xA7\xC3\xA3o em Apela\xC3\xA7\xC3\xA3o n. 0022869-14.2013.8.22.0001.\n"
                       "Institucional n. 0816008-93.2024.8.22.0000 e SEI\n");
  EXPECT_TRUE(r.decisions.empty());
  EXPECT_EQ(r.numbers.size(), 2u);
}

TEST(DiarioFormats, DjenPublicationsOnePerPage) {
  const auto r = Parse(
      "EDITAL-PAUTA FA\xC3\x87O P\xC3\x9A" "BLICO QUE SER\xC3\x83O JULGADOS OS SEGUINTES PROCESSOS E OS PORVENTURA "
      "ADIADOS, RESSALTANDO QUE AS INSCRI\xC3\x87\xC3\x95" "ES SER\xC3\x83O FEITAS NA SECRETARIA: - 022. APELA\xC3\x87\xC3\x83O "
      "0919992-11.2023.8.19.0001 Assunto: Obriga\xC3\xA7\xC3\xB5" "es APTE: SIGILOSO ADVOGADO: LUIZ PEIXOTO DE SIQUEIRA FILHO "
      "OAB/RJ-094719 APDO: SIGILOSO Relator: DES. JEAN ALBERT DE SOUZA SAADI\f"
      "Processo 1031021-50.2019.8.26.0506 - Monit\xC3\xB3ria - M\xC3\xBAtuo - N.B. - Vistos. Cumpra-se. - ADV: "
      "LEANDRO ANTONIO PAMPLONA (OAB 61854/RS), CARLOS MAGNO NOGUEIRA RODRIGUES (OAB 129021/SP)",
      true);
  ASSERT_EQ(r.decisions.size(), 2u);
  EXPECT_EQ(r.decisions[0].process_class, "APELA\xC3\x87\xC3\x83O");
  ASSERT_EQ(r.decisions[0].lawyers.size(), 1u);
  EXPECT_EQ(r.decisions[0].lawyers[0].oab->Formatted(), "RJ 94719");
  EXPECT_EQ(r.decisions[0].rapporteur, "DES. JEAN ALBERT DE SOUZA SAADI");
  EXPECT_EQ(r.decisions[1].page, 2);
  EXPECT_EQ(r.decisions[1].process_class, "Monit\xC3\xB3ria");
  ASSERT_EQ(r.decisions[1].lawyers.size(), 2u);
  EXPECT_EQ(r.decisions[1].lawyers[1].oab->Formatted(), "SP 129021");
}

TEST(DiarioFormats, HostileTextEndsQuickly) {
  // One huge line of labels and dashes, and one of digits: no crash, no hang.
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "ADV: A - RO 1 OAB/ - \xE2\x80\x93 ";
  text += "\f" + std::string(200000, '9');
  const auto r = Parse(text, true);
  EXPECT_TRUE(r.decisions.empty());
}

}  // namespace
}  // namespace fila::diario
