#pragma once

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <string>

#include "commands.h"
#include "fila/core/errors.h"

namespace fila::cli {

inline std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Runs a command body, turning fila errors into a message and an exit code.
template <typename Fn>
int Guard(const std::string& where, Fn&& fn) {
  try {
    return fn();
  } catch (const PermanentError& e) {
    std::string field = e.field().empty() ? "" : " (" + e.field() + ")";
    spdlog::error("error: {}{}", e.what(), field);
    return kUsage;
  } catch (const TransientError& e) {
    spdlog::error("error: {} [{}]", e.what(), where);
    return kFailure;
  } catch (const Error& e) {
    spdlog::error("error: {}", e.what());
    return kFailure;
  }
}

}  // namespace fila::cli
