// Parts of the diario.process handler that need no server: the limiter key
// of a host and the folder archive.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fila/core/errors.h"
#include "fila/diario/archive.h"
#include "fila/diario/handler.h"

namespace fila::diario {
namespace {

TEST(DiarioHandlerParts, HostLimitKeyIsTheLowerCaseHostWithoutCredentials) {
  EXPECT_EQ(HostLimitKey("https://WWW.TJRO.jus.br/diario/x.pdf"), "diario-host:www.tjro.jus.br");
  EXPECT_EQ(HostLimitKey("http://user:pw@127.0.0.1:8080/a?b"), "diario-host:127.0.0.1:8080");
  EXPECT_EQ(HostLimitKey("http://h"), "diario-host:h");
}

TEST(DiarioHandlerParts, FolderArchiveWritesTheWholeFileUnderItsName) {
  const auto root = std::filesystem::temp_directory_path() /
                    ("diario_archive_test_" + std::to_string(::getpid()));
  auto limiter = MakeLocalKeyLimiter();
  auto http = MakeHttpClient();
  auto archive = MakeArchive(root.string(), *limiter, *http);
  ASSERT_NE(archive, nullptr);
  const std::string bytes = "%PDF-1.4 not really";
  const std::string uri = archive->Put("tjro/2024/20240720.pdf", bytes, DeadlineIn(std::chrono::seconds(5)), {});
  EXPECT_EQ(uri, "file://" + (root / "tjro/2024/20240720.pdf").string());
  std::ifstream in(root / "tjro/2024/20240720.pdf", std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), bytes);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(root);
  EXPECT_EQ(MakeArchive("", *limiter, *http), nullptr);
}

}  // namespace
}  // namespace fila::diario
