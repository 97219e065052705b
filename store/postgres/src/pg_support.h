#pragma once

// Helpers shared by the Postgres adapter's translation units.

#include <pqxx/pqxx>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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
// A text that came from input (an error, a progress message) as it is
// stored: cut with TruncateText, then ValidUtf8. Every such write goes
// through this.
std::string StoredText(std::string_view text);
// The bytes of a bytea field.
std::string Bytes(const pqxx::field& field);
int64_t Int64OrZero(const pqxx::field& field);
std::string TextOrEmpty(const pqxx::field& field);
// The elements of an array field (libpqxx's parser), as text; NULL: none.
std::vector<std::string> TextArray(const pqxx::field& field);
// An array of integers the statement made, parsed strictly, with no list
// of texts in between (the relay reads one per outbox row every pass).
std::vector<int64_t> Int64Array(const pqxx::field& field);

// Whether a new session gets fila's default statement_timeout
// (ConnectionDefaults::statement_timeout) when nothing else set one. The
// migrator opts out: a migration may rewrite a large table.
enum class StatementTimeout { kDefault, kNone };

// Opens a connection with ConnectionString(url) (connection_string.h): the
// client timeouts, and target_session_attrs=read-write for several hosts.
// TransientError when no server can be reached (or none is a primary);
// PermanentError for a URL libpq refuses, its message passed through
// RedactSecrets.
std::unique_ptr<pqxx::connection> Open(const std::string& url,
                                       StatementTimeout statement_timeout = StatementTimeout::kDefault);

// Rethrows the exception in flight as a fila error that says what the
// caller should do next, by the statement's SQLSTATE (PostgreSQL manual,
// appendix A):
//
//   TransientError, connection reopened (`broken` set): 08 connection
//     exception; 57P01-57P03 and 57P05 (shutdown, crash, not accepting
//     connections yet, idle session timeout); 25006 (read-only transaction:
//     the server is, or became, a standby after a failover; a new
//     connection finds the primary); 25P02 (inside a transaction that an
//     earlier error, one the caller never saw, aborted); 25P03
//     (idle-in-transaction timeout); 26000 (prepared statement gone: a
//     pooler switched sessions); 28 (authentication); 3D000 (database
//     missing, e.g. mid-restore); no SQLSTATE at all (the socket died); any
//     other libpqxx failure.
//   TransientError, connection kept: 57014 (statement_timeout or a cancel
//     request), 55P03 (lock_timeout), 55006 (object in use), 40
//     (serialization failure, deadlock), 53 (disk full, out of memory, too
//     many connections), 58 (I/O error), 72 (snapshot too old).
//   PermanentError: everything else, since the same statement on the same
//     data fails again: 22 data exception, 23 integrity constraint, 54
//     program limit (stack depth, string too long), 42 syntax or access
//     rule (a schema that does not match the build), 0A, P0 (a trigger's
//     RAISE), XX ...; and libpqxx's conversion and argument errors.
//
// The message keeps the server's first line only (no DETAIL or CONTEXT:
// CONTEXT can quote thousands of nested trigger frames, DETAIL row
// values), cut with TruncateText; it starts with the SQLSTATE.
[[noreturn]] void Translate(bool& broken);

}  // namespace fila::pg
