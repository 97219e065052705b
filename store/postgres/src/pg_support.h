#pragma once

// Helpers shared by the Postgres adapter's translation units.

#include <pqxx/pqxx>

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace fila::pg {

// A Postgres array literal ({"a","b"}) of `items`, sent as one parameter.
std::string ArrayLiteral(std::span<const std::string> items);
template <typename Int>
std::string IntArrayLiteral(std::span<const Int> items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(items[i]);
  }
  return out + "}";
}

std::string Hex(std::string_view bytes);
// `text` with NUL bytes and invalid UTF-8 replaced by '?': Postgres text
// rejects both, and one bad error message must not block a whole batch.
std::string ValidUtf8(std::string_view text);
// The bytes of a bytea field.
std::string Bytes(const pqxx::field& field);
int64_t Int64OrZero(const pqxx::field& field);
std::string TextOrEmpty(const pqxx::field& field);

// Opens a connection; TransientError when the server cannot be reached.
std::unique_ptr<pqxx::connection> Open(const std::string& url);

// Rethrows the exception in flight as a fila error: lost connections,
// shutdowns and serialization failures become TransientError (setting
// `broken` when the connection must be reopened); anything else is an Error.
[[noreturn]] void Translate(bool& broken);

}  // namespace fila::pg
