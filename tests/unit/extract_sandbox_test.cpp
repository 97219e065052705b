// The sandbox that runs fila-extract per document (fila/extract/sandbox.h),
// against a stand-in helper that misbehaves on purpose: a memory bomb, a
// crash, a CPU spin, a hang, a flood of output. Each ends in a clear error,
// and leaves no process (not even a zombie) and no descriptor behind.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "fila/core/errors.h"
#include "fila/extract/budget.h"
#include "fila/extract/sandbox.h"

namespace fila::extract {
namespace {

using namespace std::chrono_literals;

int OpenDescriptors() {
  int n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
    ::closedir(dir);
  }
  return n;
}

// Processes whose parent is this one, zombies included.
int Children() {
  int n = 0;
  const std::string self = std::to_string(::getpid());
  if (DIR* dir = ::opendir("/proc")) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
      std::string line;
      std::getline(stat, line);
      const size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(line.substr(close + 2));
      std::string state;
      std::string ppid;
      fields >> state >> ppid;
      n += ppid == self;
    }
    ::closedir(dir);
  }
  return n;
}

class Sandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    descriptors_ = OpenDescriptors();
    ASSERT_EQ(Children(), 0);
  }
  void TearDown() override {
    EXPECT_EQ(Children(), 0) << "a helper process was left behind";
    EXPECT_EQ(OpenDescriptors(), descriptors_) << "a descriptor was left open";
  }

  std::string Run(const std::string& command, std::string_view input = "", Budget budget = {},
                  Deadline deadline = Deadline::max(), std::function<bool()> cancelled = {}) {
    extract::Run run{.args = {command}, .input = input, .deadline = deadline, .cancelled = std::move(cancelled),
                     .max_output_bytes = size_t{1} << 20};
    return RunExtractor(FILA_EXTRACT_TEST_HELPER, run, budget);
  }

  // "permanent: ..." or "transient: ..." or "no error".
  std::string ErrorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const PermanentError& e) {
      return std::string("permanent: ") + e.what();
    } catch (const TransientError& e) {
      return std::string("transient: ") + e.what();
    }
    return "no error";
  }

  int descriptors_ = 0;
};

TEST_F(Sandbox, PassesTheDocumentThroughAndBack) {
  std::string document(size_t{900} << 10, 'd');
  for (size_t i = 0; i < document.size(); i += 997) document[i] = static_cast<char>(i % 251);
  EXPECT_EQ(Run("echo", document), document);
  EXPECT_EQ(Run("echo", ""), "");
}

TEST_F(Sandbox, ARefusalKeepsItsMessage) {
  EXPECT_EQ(ErrorOf([&] { Run("refuse", "x"); }), "permanent: this document is refused");
}

TEST_F(Sandbox, ACrashIsAPermanentErrorNamingTheSignal) {
  EXPECT_EQ(ErrorOf([&] { Run("crash", "x"); }),
            "permanent: the extractor was killed by signal 11 (SIGSEGV) on this document");
}

TEST_F(Sandbox, AKillFromOutsideIsTransient) {
  // What the OOM killer does when a pod's extractors overrun its memory.
  EXPECT_EQ(ErrorOf([&] { Run("selfkill", "x"); }),
            "transient: the extractor was killed by SIGKILL, not by its own limits: most likely the OOM killer, "
            "the container's memory being short");
  EXPECT_EQ(Run("oom-score"), "1000") << "the helper is first in line for the OOM killer";
}

TEST_F(Sandbox, AMemoryBombHitsTheMemoryBudget) {
  Budget budget;
  budget.memory_mib = 64;
  EXPECT_EQ(ErrorOf([&] { Run("bomb", "x", budget); }),
            "permanent: document exceeds the extraction budget: more than 64 MiB of memory, the limit is 64 "
            "(FILA_EXTRACT_MEMORY_MB)");
}

TEST_F(Sandbox, ASpinHitsTheCpuBudget) {
  Budget budget;
  budget.cpu_seconds = 1;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ErrorOf([&] { Run("spin", "x", budget); }),
            "permanent: document exceeds the extraction budget: more than 1 s of CPU time, the limit is 1 "
            "(FILA_EXTRACT_CPU_SECONDS)");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

TEST_F(Sandbox, AHangIsKilledAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ErrorOf([&] { Run("sleep", "x", {}, DeadlineIn(300ms)); }),
            "transient: document extraction stopped at the task's deadline");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(Sandbox, ACancelKillsTheHelper) {
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ErrorOf([&] {
              Run("sleep", "x", {}, Deadline::max(),
                  [&] { return std::chrono::steady_clock::now() - started > 200ms; });
            }),
            "transient: document extraction cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(Sandbox, OutputIsBounded) {
  EXPECT_EQ(ErrorOf([&] { Run("flood", "x"); }), "permanent: the extractor's result exceeds 1048576 bytes");
}

TEST_F(Sandbox, AHelperThatStopsReadingDoesNotKillTheCaller) {
  // 8 MB does not fit in a pipe: the writes meet EPIPE, and SIGPIPE would
  // end this process if it were not kept from it.
  EXPECT_EQ(Run("quit", std::string(size_t{8} << 20, 'q')), "");
}

TEST_F(Sandbox, TheHelperGetsNoDescriptorAndNoSecretOfTheCaller) {
  ::setenv("FILA_DATABASE_URL", "postgresql://fila:hunter2@db/fila", 1);
  const int leaked = ::open("/dev/null", O_RDONLY);  // not O_CLOEXEC on purpose
  const std::string seen = Run("inherited");
  ::close(leaked);
  ::unsetenv("FILA_DATABASE_URL");
  EXPECT_EQ(seen, "fd 0\nfd 1\nfd 2\nenv FILA_EXTRACT_PARENT=" + std::to_string(::getpid()) +
                      "\nenv FILA_EXTRACT_INPUT_BYTES=0\n");
}

TEST_F(Sandbox, ManyAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const std::string doc(size_t{100} << 10, static_cast<char>('a' + i));
      if (Run("echo", doc) == doc) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
}

TEST(ExtractorPath, AMissingHelperIsAConfigurationError) {
  ::setenv("FILA_EXTRACTOR", "/nonexistent/fila-extract", 1);
  try {
    ExtractorPath();
    ADD_FAILURE() << "no error";
  } catch (const PermanentError& e) {
    EXPECT_NE(std::string(e.what()).find("FILA_EXTRACTOR"), std::string::npos) << e.what();
  }
  ::setenv("FILA_EXTRACTOR", FILA_EXTRACT_TEST_HELPER, 1);
  EXPECT_EQ(ExtractorPath(), FILA_EXTRACT_TEST_HELPER);
  ::unsetenv("FILA_EXTRACTOR");
}

TEST(ExtractBudget, ReadsTheEnvironmentAndRoundTripsAsArguments) {
  ::setenv("FILA_EXTRACT_MAX_PDF_PAGES", "12", 1);
  ::setenv("FILA_EXTRACT_MEMORY_MB", "256", 1);
  const Budget budget = BudgetFromEnv();
  EXPECT_EQ(budget.max_pdf_pages, 12u);
  EXPECT_EQ(budget.memory_mib, 256u);
  EXPECT_EQ(budget.max_html_depth, Budget{}.max_html_depth);
  const Budget back = BudgetFromArgs(BudgetArgs(budget));
  EXPECT_EQ(back.max_pdf_pages, 12u);
  EXPECT_EQ(back.memory_mib, 256u);
  EXPECT_EQ(back.max_text_bytes, budget.max_text_bytes);
  ::setenv("FILA_EXTRACT_MAX_PDF_PAGES", "ten", 1);
  EXPECT_THROW(BudgetFromEnv(), PermanentError);
  ::setenv("FILA_EXTRACT_MAX_PDF_PAGES", "0", 1);
  EXPECT_THROW(BudgetFromEnv(), PermanentError);
  ::unsetenv("FILA_EXTRACT_MAX_PDF_PAGES");
  ::unsetenv("FILA_EXTRACT_MEMORY_MB");
}

}  // namespace
}  // namespace fila::extract
