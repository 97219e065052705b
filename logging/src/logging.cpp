#include "fila/logging/logging.h"

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <vector>

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/text_limit.h"

namespace fila::logging {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields& ProcessFields() {
  static Fields fields;
  return fields;
}

thread_local Fields t_fields;

std::string Timestamp(std::chrono::system_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(ms.count() % 1000));
  return out;
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

class Formatter final : public spdlog::formatter {
 public:
  Formatter(std::string program, bool json) : program_(std::move(program)), json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    // Masked before the cut, so that a cut never leaves half a secret
    // unrecognised; the redactor is linear, the whole message is cheap.
    const std::string text =
        TruncateText(RedactSecrets(std::string_view(msg.payload.data(), msg.payload.size())));
    std::string line = json_ ? Json(msg, text) : Text(msg, text);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<Formatter>(program_, json_);
  }

 private:
  std::string Json(const spdlog::details::log_msg& msg, const std::string& text) const {
    nlohmann::ordered_json j;
    j["ts"] = Timestamp(msg.time);
    j["level"] = LevelName(msg.level);
    j["proc"] = program_;
    j["msg"] = text;
    for (const auto& [k, v] : ProcessFields()) j[k] = TruncateText(RedactSecrets(v));
    for (const auto& [k, v] : t_fields) j[k] = TruncateText(RedactSecrets(v));
    // Invalid UTF-8 (from a payload, say) is replaced, never thrown.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  std::string Text(const spdlog::details::log_msg& msg, const std::string& text) const {
    std::string line = Timestamp(msg.time) + " " + std::string(LevelName(msg.level)) + " " +
                       program_ + " " + text;
    for (const auto* fields : {&ProcessFields(), &t_fields}) {
      for (const auto& [k, v] : *fields) line += " " + k + "=" + TruncateText(RedactSecrets(v));
    }
    return line;
  }

  std::string program_;
  bool json_;
};

}  // namespace

void Setup(const std::string& program, const std::string& level, const std::string& format) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only "off" itself may mean it.
  if (parsed == spdlog::level::off && level != "off") {
    throw PermanentError("unknown log level '" + level + "' (trace|debug|info|warn|error|off)");
  }
  if (format != "json" && format != "text") {
    throw PermanentError("unknown log format '" + format + "' (json|text)");
  }
  auto logger = spdlog::stderr_logger_mt(program);
  logger->set_formatter(std::make_unique<Formatter>(program, format == "json"));
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void SetProcessField(std::string key, std::string value) {
  for (auto& [k, v] : ProcessFields()) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  ProcessFields().emplace_back(std::move(key), std::move(value));
}

Scope::Scope(std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  for (const auto& [k, v] : fields) t_fields.emplace_back(std::string(k), v);
  pushed_ = fields.size();
}

Scope::~Scope() { t_fields.resize(t_fields.size() - pushed_); }

}  // namespace fila::logging
