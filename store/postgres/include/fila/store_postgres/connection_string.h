#pragma once

// The one place that turns the operator's database URL (FILA_DATABASE_URL,
// --database-url) into what fila connects with: pg::Open calls it for every
// connection of every component (stores, pools, the leader's LISTEN
// connection, the API, the migrator, extension stores, the CLI).
//
// Why: with a primary and a streaming standby behind a multi-host URL
// (postgresql://u@h1:5432,h2:5433/fila), a connection must land on the
// primary, and a dead or half-open server must cost seconds, not the
// kernel's minutes. docs/operations.md ("PostgreSQL failover") lists the
// defaults and how to change them.

#include <string>
#include <string_view>

namespace fila::pg {

// What fila adds to a connection unless the operator set it. An empty value
// adds nothing.
struct ConnectionDefaults {
  std::string connect_timeout = "5";      // seconds, for each host tried
  std::string keepalives = "1";
  std::string keepalives_idle = "10";     // seconds idle before the first probe
  std::string keepalives_interval = "5";  // seconds between probes
  std::string keepalives_count = "3";     // probes lost before the connection is dead
  std::string tcp_user_timeout = "15000";  // ms that sent data may stay unacknowledged
  // Only for URLs that name several hosts: a standby must never take writes.
  std::string target_session_attrs = "read-write";
  // Not part of the string: pg::Open sets it on the session when neither
  // the URL (options=-c statement_timeout=...) nor the server (postgresql.conf,
  // ALTER DATABASE/ROLE ... SET) gives one.
  std::string statement_timeout = "30s";

  // The defaults above, with FILA_DATABASE_STATEMENT_TIMEOUT ("0": none),
  // and without what libpq's own environment already sets
  // (PGCONNECT_TIMEOUT, PGTARGETSESSIONATTRS, statement_timeout in PGOPTIONS).
  static ConnectionDefaults FromEnvironment();
};

// `url` (a URI postgresql://... or postgres://..., or a key=value conninfo
// string) with each keyword of `defaults` it lacks appended; the operator's
// own values are kept as written. A URL libpq would refuse comes back
// unchanged, so libpq's error reaches the operator. The result holds the
// URL's password wherever the URL held it: log it only through
// RedactSecrets (fila/core/config.h), never as is. Time linear in the
// URL's length, no recursion, any input.
std::string ConnectionString(std::string_view url, const ConnectionDefaults& defaults);

// Whether the URL sets statement_timeout itself (in its options keyword).
bool SetsStatementTimeout(std::string_view url);

// Whether the URL names more than one host (host list or host= parameter).
bool IsMultiHost(std::string_view url);

}  // namespace fila::pg
