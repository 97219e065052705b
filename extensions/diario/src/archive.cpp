#include "fila/diario/archive.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "fila/core/errors.h"

namespace fila::diario {
namespace {

const LimitSpec kArchiveLimit{.max_concurrent = 2};

class FolderArchive final : public Archive {
 public:
  FolderArchive(std::filesystem::path root, KeyLimiter& limiter) : root_(std::move(root)), limiter_(limiter) {}

  std::string Put(const std::string& name, std::string_view bytes, Deadline deadline,
                  const std::function<bool()>& cancelled) override {
    Permit permit = limiter_.Acquire(kArchiveLimitKey, kArchiveLimit, deadline, cancelled);
    namespace fs = std::filesystem;
    const fs::path target = root_ / name;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw TransientError("archive: cannot create " + target.parent_path().string() + ": " + ec.message());
    // Written beside the target, then renamed: a reader never sees half a PDF.
    static std::atomic<uint64_t> counter{0};
    fs::path tmp = target;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      out.flush();
      if (!out) {
        fs::remove(tmp, ec);
        throw TransientError("archive: cannot write " + tmp.string());
      }
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      fs::remove(tmp, ec);
      throw TransientError("archive: cannot rename into " + target.string());
    }
    return "file://" + fs::absolute(target).string();
  }

 private:
  std::filesystem::path root_;
  KeyLimiter& limiter_;
};

class HttpArchive final : public Archive {
 public:
  HttpArchive(std::string base, KeyLimiter& limiter, HttpClient& http)
      : base_(std::move(base)), limiter_(limiter), http_(http) {
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  std::string Put(const std::string& name, std::string_view bytes, Deadline deadline,
                  const std::function<bool()>& cancelled) override {
    Permit permit = limiter_.Acquire(kArchiveLimitKey, kArchiveLimit, deadline, cancelled);
    HttpRequest req;
    req.method = "PUT";
    req.url = base_ + "/" + name;
    req.source = UrlSource::kOperator;  // FILA_DIARIO_ARCHIVE; `name` is built from checked fields
    req.headers = {{"Content-Type", "application/pdf"}};
    req.body.assign(bytes);
    req.deadline = deadline;
    req.max_response_bytes = 1 << 20;
    HttpResponse resp = http_.Send(req);
    if (resp.status >= 200 && resp.status < 300) return req.url;
    if (resp.status == 429 || resp.status >= 500) {
      throw TransientError("archive: PUT answered " + std::to_string(resp.status));
    }
    throw PermanentError("archive: PUT answered " + std::to_string(resp.status));
  }

 private:
  std::string base_;
  KeyLimiter& limiter_;
  HttpClient& http_;
};

}  // namespace

std::unique_ptr<Archive> MakeArchive(const std::string& target, KeyLimiter& limiter, HttpClient& http) {
  if (target.empty()) return nullptr;
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    return std::make_unique<HttpArchive>(target, limiter, http);
  }
  std::string path = target.rfind("file://", 0) == 0 ? target.substr(7) : target;
  return std::make_unique<FolderArchive>(path, limiter);
}

}  // namespace fila::diario
