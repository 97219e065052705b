#include "pg_support.h"

#include "fila/core/config.h"
#include "fila/core/errors.h"
#include "fila/core/text_limit.h"
#include "fila/store_postgres/connection_string.h"
#include "host_fallback.h"

namespace fila::pg {
namespace {

bool Within(const std::string& state, std::initializer_list<std::string_view> prefixes) {
  for (auto prefix : prefixes) {
    if (state.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

// "stack depth limit exceeded" from "ERROR:  stack depth limit exceeded\nHINT: ...".
std::string FirstLine(std::string_view what) {
  what = what.substr(0, what.find('\n'));
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  ", "PANIC:  "}) {
    if (what.substr(0, prefix.size()) == prefix) what.remove_prefix(prefix.size());
  }
  return TruncateText(ValidUtf8(what));
}

}  // namespace

std::string ArrayLiteral(std::span<const std::string> items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && c != 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string StoredText(std::string_view text) { return ValidUtf8(TruncateText(text)); }

std::string Bytes(const pqxx::field& field) {
  if (field.is_null()) return {};
  pqxx::binarystring bin(field);
  return bin.str();
}

int64_t Int64OrZero(const pqxx::field& field) {
  return field.is_null() ? 0 : field.as<int64_t>();
}

std::string TextOrEmpty(const pqxx::field& field) {
  return field.is_null() ? std::string() : field.as<std::string>();
}

std::vector<std::string> TextArray(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  auto parser = field.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::done;
       item = parser.get_next()) {
    if (item.first == pqxx::array_parser::string_value) out.push_back(item.second);
  }
  return out;
}

std::vector<int64_t> Int64Array(const pqxx::field& field) {
  std::vector<int64_t> out;
  if (field.is_null()) return out;
  auto parser = field.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::done;
       item = parser.get_next()) {
    if (item.first != pqxx::array_parser::string_value) continue;
    int64_t n = 0;
    pqxx::from_string(item.second, n);  // strict: throws on anything but an integer
    out.push_back(n);
  }
  return out;
}

std::unique_ptr<pqxx::connection> Open(const std::string& url, StatementTimeout statement_timeout) {
  const ConnectionDefaults defaults = ConnectionDefaults::FromEnvironment();
  std::unique_ptr<pqxx::connection> conn;
  const std::string conninfo = ConnectionString(url, defaults);
  try {
    conn = std::make_unique<pqxx::connection>(conninfo);
  } catch (const pqxx::broken_connection& e) {
    std::string why = e.what();
    // libpq gave up before the last host (host_fallback.h): the rest, alone.
    for (const std::string& single : UntriedHosts(conninfo, why)) {
      try {
        conn = std::make_unique<pqxx::connection>(single);
        break;
      } catch (const std::exception& next) {
        why += next.what();
      }
    }
    while (!conn && !why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (!conn) throw TransientError("cannot connect to PostgreSQL: " + RedactSecrets(why));
  } catch (const std::exception& e) {
    // Malformed connection strings land here; libpq may quote them.
    throw PermanentError("invalid database URL: " + RedactSecrets(e.what()), "database-url");
  }
  if (statement_timeout == StatementTimeout::kDefault && !defaults.statement_timeout.empty() &&
      !SetsStatementTimeout(url)) {
    // A session setting, not `options` in the connection string: startup
    // options would override what the server sets per database or role,
    // and this keeps an operator's ALTER ROLE ... SET statement_timeout.
    try {
      pqxx::nontransaction tx(*conn);
      tx.exec_params(
          "SELECT set_config('statement_timeout', $1, false) "
          "WHERE current_setting('statement_timeout') = '0'",
          defaults.statement_timeout);
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate().rfind("22", 0) == 0) {
        throw PermanentError("FILA_DATABASE_STATEMENT_TIMEOUT: " + FirstLine(e.what()));
      }
      // 57014: the server's own statement_timeout cut it, so one applies.
      if (e.sqlstate() != "57014") throw;
    }
  }
  return conn;
}

void Translate(bool& broken) {
  try {
    throw;
  } catch (const fila::Error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    broken = true;
    throw TransientError("PostgreSQL connection lost: " + FirstLine(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    broken = true;
    throw TransientError("PostgreSQL commit outcome unknown: " + FirstLine(e.what()));
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    const std::string what = FirstLine(e.what());
    if (state.empty()) {
      // libpq reports a dead socket without a SQLSTATE.
      broken = true;
      throw TransientError("PostgreSQL failure: " + what);
    }
    // 26000 and 42P05: the session's prepared statements are not the ones
    // libpqxx knows of (one missing; or one made by a prepare that a
    // statement timeout cut, which libpqxx 6 prepares again at every use).
    // 25P02: the statement ran inside a transaction that an earlier error,
    // one this code never saw, had aborted: the session's state, not the
    // caller's fault (it was answered 400 under a 2 ms statement timeout in
    // DatabaseAttack.StatementTimeout...). A new session has none of these:
    // replace this one.
    if (Within(state, {"08", "57P01", "57P02", "57P03", "57P05", "25006", "25P02", "25P03", "26000",
                       "42P05", "28", "3D000"})) {
      broken = true;
      throw TransientError("PostgreSQL unavailable (" + state + "): " + what);
    }
    if (Within(state, {"57014", "55P03", "55006", "40", "53", "58", "72"})) {
      throw TransientError("PostgreSQL transient failure (" + state + "): " + what);
    }
    throw PermanentError("PostgreSQL refused the statement (" + state + "): " + what);
  } catch (const pqxx::conversion_error& e) {
    throw PermanentError("unexpected value from PostgreSQL: " + FirstLine(e.what()));
  } catch (const pqxx::range_error& e) {
    throw PermanentError("unexpected value from PostgreSQL: " + FirstLine(e.what()));
  } catch (const pqxx::argument_error& e) {
    throw PermanentError("bad argument to PostgreSQL: " + FirstLine(e.what()));
  } catch (const pqxx::failure& e) {
    broken = true;
    throw TransientError("PostgreSQL failure: " + FirstLine(e.what()));
  } catch (const pqxx::usage_error& e) {
    // A connection left in a state libpqxx refuses: a fresh one is the way out.
    broken = true;
    throw TransientError("PostgreSQL client error: " + FirstLine(e.what()));
  } catch (const pqxx::internal_error& e) {
    broken = true;
    throw TransientError("PostgreSQL client error: " + FirstLine(e.what()));
  }
}

}  // namespace fila::pg
