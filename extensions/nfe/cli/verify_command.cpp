#include "verify_command.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include "fila/core/errors.h"
#include "fila/nfe/verifier.h"

namespace fila::nfe {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Larger than any invoice (the NF-e layout caps a batch at 500 KB); a file
// beyond it is refused before it is read.
constexpr std::uintmax_t kMaxFileBytes = 32u << 20;
constexpr size_t kMaxText = 300;  // of any text that came from a file

std::string Cut(std::string s) {
  if (s.size() > kMaxText) s = s.substr(0, kMaxText) + "...";
  return s;
}

struct FileVerdict {
  std::string path;
  std::string error;  // unreadable: why
  Verification v;
  std::string Verdict() const {
    if (!error.empty()) return "unreadable";
    if (v.Valid()) return "valid";
    return v.SoundButNotAnInvoice() ? "not_an_invoice" : "invalid";
  }
};

bool IsXmlName(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".xml";
}

// The files to verify: each file given, and the *.xml under each folder.
// Walks with the standard iterator (no recursion of ours).
std::vector<FileVerdict> Collect(const std::vector<std::string>& paths) {
  std::vector<FileVerdict> files;
  for (const auto& given : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(given, ec);
    if (ec || !fs::exists(st)) {
      files.push_back({.path = given, .error = "no such file or folder"});
      continue;
    }
    if (!fs::is_directory(st)) {
      files.push_back({.path = given});
      continue;
    }
    fs::recursive_directory_iterator it(given, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      files.push_back({.path = given, .error = "cannot list: " + ec.message()});
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        files.push_back({.path = it->path().string(), .error = "cannot list: " + ec.message()});
        break;
      }
      std::error_code type_ec;
      if (it->is_regular_file(type_ec) && IsXmlName(it->path())) files.push_back({.path = it->path().string()});
    }
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

void VerifyFile(FileVerdict& f, const VerifyOptions& options) {
  if (!f.error.empty()) return;
  std::error_code ec;
  const auto size = fs::file_size(f.path, ec);
  if (ec) {
    f.error = "cannot read: " + ec.message();
    return;
  }
  if (size > kMaxFileBytes) {
    f.error = "larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB";
    return;
  }
  std::ifstream in(f.path, std::ios::binary);
  std::ostringstream bytes;
  if (!in || !(bytes << in.rdbuf() ? true : size == 0)) {
    f.error = "cannot read";
    return;
  }
  f.v = VerifyDocument(bytes.str(), options);
}

std::string Document(const Verification& v) {
  std::string d = v.root.empty() ? std::string(KindName(v.kind)) : v.root;
  if (v.model == "65") d += " (NFC-e)";
  if (!v.envelope.empty()) d = v.envelope + ":" + d;
  return d;
}

std::string Signatures(const Verification& v) {
  std::string s;
  for (const auto& sig : v.signatures) {
    if (!s.empty()) s += ",";
    s += sig.status == "valid" ? "valid/" + sig.algorithm : sig.status;
    if (sig.status == "valid" && sig.chain != "not_checked") s += sig.chain == "trusted" ? "/trusted" : "/untrusted";
  }
  return s.empty() ? "-" : s;
}

json ToJson(const FileVerdict& f) {
  json j{{"file", f.path}, {"verdict", f.Verdict()}};
  if (!f.error.empty()) {
    j["error"] = f.error;
    return j;
  }
  const Verification& v = f.v;
  j.update({{"kind", KindName(v.kind)}, {"document", v.root}, {"envelope", v.envelope}, {"model", v.model},
            {"access_key", Cut(v.access_key)}, {"issuer_cnpj", Cut(v.issuer_cnpj)}, {"environment", v.environment},
            {"event_type", Cut(v.event_type)}, {"failed", json::array()}, {"signatures", json::array()}});
  for (const auto& check : v.failed) j["failed"].push_back(Cut(check));
  for (const auto& s : v.signatures) {
    j["signatures"].push_back({{"element", Cut(s.element)}, {"status", Cut(s.status)}, {"algorithm", Cut(s.algorithm)},
                               {"signer", Cut(s.signer)}, {"chain", s.chain}, {"detail", Cut(s.detail)}});
  }
  if (!v.detail.empty()) j["detail"] = Cut(v.detail);
  return j;
}

void PrintTable(const std::vector<FileVerdict>& files) {
  std::printf("%-15s %-26s %-44s %-22s %s\n", "VERDICT", "DOCUMENT", "KEY", "SIGNATURE", "FILE / FAILED CHECKS");
  for (const auto& f : files) {
    if (!f.error.empty()) {
      std::printf("%-15s %-26s %-44s %-22s %s\n    %s\n", "unreadable", "-", "-", "-", f.path.c_str(),
                  f.error.c_str());
      continue;
    }
    const std::string key = f.v.access_key.empty() ? "-" : Cut(f.v.access_key);
    std::printf("%-15s %-26s %-44s %-22s %s\n", f.Verdict().c_str(), Cut(Document(f.v)).c_str(), key.c_str(),
                Signatures(f.v).c_str(), f.path.c_str());
    std::string checks;
    for (const auto& c : f.v.failed) checks += (checks.empty() ? "" : " ") + Cut(c);
    if (!f.v.detail.empty()) checks += " (" + Cut(f.v.detail) + ")";
    if (!f.v.Valid()) std::printf("    %s\n", checks.c_str());
  }
}

void Verify(const CliInvocation& args) {
  const std::vector<std::string> paths = args.List("paths");
  if (paths.empty()) throw PermanentError("give at least one file or folder", "paths");
  VerifyOptions options = VerifyOptions::FromEnvironment();
  options.trust_bundle = args.Text("--trust-bundle", options.trust_bundle);
  if (!options.trust_bundle.empty() && !std::ifstream(options.trust_bundle)) {
    throw PermanentError("cannot read the trust bundle " + options.trust_bundle, "trust-bundle");
  }
  std::vector<FileVerdict> files = Collect(paths);
  const auto start = std::chrono::steady_clock::now();
  for (auto& f : files) VerifyFile(f, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::map<std::string, int> counts;
  for (const auto& f : files) counts[f.Verdict()]++;
  const int bad = counts["invalid"] + counts["unreadable"];
  if (args.Flag("--json")) {
    json out{{"files", json::array()},
             {"summary",
              {{"files", files.size()}, {"valid", counts["valid"]}, {"not_an_invoice", counts["not_an_invoice"]},
               {"invalid", counts["invalid"]}, {"unreadable", counts["unreadable"]}, {"seconds", seconds},
               {"chain", options.trust_bundle.empty() ? "not_checked" : "checked"}}}};
    for (const auto& f : files) out["files"].push_back(ToJson(f));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    PrintTable(files);
    std::printf("%zu files: %d valid, %d not invoices (their checks pass), %d invalid, %d unreadable; %.2f s "
                "(%.0f files/s); certificate chains %s\n",
                files.size(), counts["valid"], counts["not_an_invoice"], counts["invalid"], counts["unreadable"],
                seconds, seconds > 0 ? static_cast<double>(files.size()) / seconds : 0.0,
                options.trust_bundle.empty() ? "not checked (no FILA_NFE_TRUST_BUNDLE)" : "checked");
  }
  std::cout.flush();
  std::fflush(stdout);
  if (bad > 0) throw Error(std::to_string(bad) + " of " + std::to_string(files.size()) + " files are invalid or unreadable");
}

}  // namespace

CliCommand VerifyCommand() {
  return {.path = {"nfe", "verify"},
          .help = "verify NF-e/NFC-e/NFS-e XML files and folders (signatures, keys, protocols); local, no database",
          .options = {{"paths", "files, and folders searched for *.xml recursively", CliOption::Kind::kTextList, true},
                      {"--json", "one JSON document instead of the table", CliOption::Kind::kFlag},
                      {"--trust-bundle", "PEM file of trusted CAs (ICP-Brasil); default FILA_NFE_TRUST_BUNDLE"}},
          .local_only = true,
          .run = Verify};
}

}  // namespace fila::nfe
