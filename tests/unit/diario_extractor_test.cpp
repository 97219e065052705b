// The rule-based extractor on the real TJRO gazette pages of the fixture,
// through poppler-cpp: counts and facts checked by reading the PDF.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fila/core/errors.h"
#include "fila/diario/pdf_text.h"
#include "fila/diario/tribunal.h"

namespace fila::diario {
namespace {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(FILA_SOURCE_DIR) + "/tests/fixtures/diarios/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const Decision* Find(const Extraction& e, const std::string& number, bool with_decision) {
  for (const auto& d : e.decisions) {
    if (d.process_number == number && d.HasDecision() == with_decision) return &d;
  }
  return nullptr;
}

class DiarioExtractor : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pages_ = new std::vector<PageText>(ExtractPdfText(ReadFixture("tjro_dj_20250624_pages48-72.pdf")));
    result_ = new Extraction(ExtractDecisions(*pages_, MakeTribunal("tjro")->Extraction()));
  }
  static void TearDownTestSuite() {
    delete pages_;
    delete result_;
  }
  static std::vector<PageText>* pages_;
  static Extraction* result_;
};
std::vector<PageText>* DiarioExtractor::pages_ = nullptr;
Extraction* DiarioExtractor::result_ = nullptr;

TEST_F(DiarioExtractor, CountsOfTheGazette) {
  EXPECT_EQ(pages_->size(), 25u);
  // 52 "Decisão:" lines in `pdftotext -layout`; 88 docket entries
  // (agendas list entries without a decision).
  int decided = 0;
  for (const auto& d : result_->decisions) decided += d.HasDecision() ? 1 : 0;
  EXPECT_EQ(decided, 52);
  EXPECT_EQ(result_->decisions.size(), 88u);
  // 123 distinct numbers in 198 occurrences, all with valid check digits
  // (counted with a loose regex on `pdftotext -layout` output).
  EXPECT_EQ(result_->numbers.size(), 123u);
  EXPECT_EQ(result_->occurrences, 198);
  EXPECT_TRUE(result_->invalid_numbers.empty());
}

TEST_F(DiarioExtractor, NumberBrokenAcrossALineIsFound) {
  // Page 72: "Agravo de Instrumento n. 0810430-" / "52.2024.8.22.0000."
  bool found = false;
  for (const auto& n : result_->numbers) found = found || n.number == "0810430-52.2024.8.22.0000";
  EXPECT_TRUE(found);
}

TEST_F(DiarioExtractor, AgendaEntryWithLawyers) {
  const Decision* d = Find(*result_, "0801072-29.2025.8.22.0000", false);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->process_class, "Agravo de Instrumento");
  EXPECT_EQ(d->page, 3);  // page 50 of the gazette
  EXPECT_EQ(d->origin_number, "7000961-50.2025.8.22.0002");
  ASSERT_GE(d->parties.size(), 2u);
  EXPECT_EQ(d->parties[0].role, "Agravante");
  EXPECT_EQ(d->parties[0].name, "Tatiana Alves Barbosa Pontes");
  ASSERT_GE(d->lawyers.size(), 2u);
  EXPECT_EQ(d->lawyers[0].name, "Elaine Leite de Moura");
  ASSERT_TRUE(d->lawyers[0].oab);
  EXPECT_EQ(d->lawyers[0].oab->Formatted(), "RO 6387");  // printed "OAB/RO 6.387"
  EXPECT_EQ(d->lawyers[0].party, 0);
  EXPECT_EQ(d->rapporteur, "DES. DANIEL RIBEIRO LAGOS");
}

TEST_F(DiarioExtractor, JudgedEntriesAndTheirOutcomes) {
  struct Fact {
    const char* number;
    Outcome outcome;
  };
  for (const Fact& f : {Fact{"0010381-61.2012.8.22.0001", Outcome::kProvido},
                        Fact{"0820526-29.2024.8.22.0000", Outcome::kNaoProvido},
                        Fact{"7069183-44.2023.8.22.0001", Outcome::kNaoConhecido},
                        Fact{"7003286-23.2024.8.22.0005", Outcome::kParcialmenteProvido},
                        Fact{"7030339-25.2023.8.22.0001", Outcome::kProvido},
                        Fact{"7029844-78.2023.8.22.0001", Outcome::kNaoProvido},
                        Fact{"7051812-77.2017.8.22.0001", Outcome::kPedidoDeVista}}) {
    const Decision* d = Find(*result_, f.number, true);
    ASSERT_NE(d, nullptr) << f.number;
    EXPECT_EQ(OutcomeCode(d->outcome), OutcomeCode(f.outcome)) << f.number << ": " << d->decision_text;
  }
  const Decision* d = Find(*result_, "7030339-25.2023.8.22.0001", true);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->rapporteur, "JUIZ ADOLFO THEODORO NAUJORKS NETO");
  ASSERT_FALSE(d->lawyers.empty());
  EXPECT_EQ(d->lawyers[0].name, "Daniel Barbosa Santos");
  EXPECT_EQ(d->lawyers[0].oab->Formatted(), "DF 13147");
  EXPECT_NE(d->decision_text.find("DEU-SE PROVIMENTO AO RECURSO, POR MAIORIA"), std::string::npos);
}

TEST(DiarioPdf, AnHtmlPageIsNotAPdf) {
  const std::string html = ReadFixture("tjro_dj_20240720_blocked_html_saved_as.pdf");
  ASSERT_FALSE(html.empty());
  EXPECT_FALSE(LooksLikePdf(html));
  EXPECT_THROW(ExtractPdfText(html), PermanentError);
  EXPECT_TRUE(LooksLikePdf(ReadFixture("tjro_dj_20250624_pages48-72.pdf")));
  EXPECT_THROW(ExtractPdfText("%PDF-1.4\ngarbage"), PermanentError);
}

TEST(DiarioPdf, TheHelperGivesTheSamePages) {
  const std::string pdf = ReadFixture("tjro_dj_20250624_pages48-72.pdf");
  const std::vector<PageText> here = ExtractPdfText(pdf);
  const std::vector<PageText> there = ExtractPdfTextIsolated(FILA_EXTRACT_BIN, pdf, {}, Deadline::max(), {});
  ASSERT_EQ(there.size(), here.size());
  for (size_t i = 0; i < here.size(); ++i) {
    EXPECT_EQ(there[i].number, here[i].number);
    EXPECT_EQ(there[i].text, here[i].text);
  }
}

TEST(DiarioPdf, PagesOverTheBudgetAreRefused) {
  const std::string pdf = ReadFixture("tjro_dj_20250624_pages48-72.pdf");
  extract::Budget budget;
  budget.max_pdf_pages = 10;
  const std::string expected =
      "document exceeds the extraction budget: 25 PDF pages, the limit is 10 (FILA_EXTRACT_MAX_PDF_PAGES)";
  for (bool isolated : {false, true}) {
    try {
      if (isolated) {
        ExtractPdfTextIsolated(FILA_EXTRACT_BIN, pdf, budget, Deadline::max(), {});
      } else {
        ExtractPdfText(pdf, {}, budget);
      }
      ADD_FAILURE() << "no error";
    } catch (const PermanentError& e) {
      EXPECT_EQ(e.what(), expected);
    }
  }
}

}  // namespace
}  // namespace fila::diario
