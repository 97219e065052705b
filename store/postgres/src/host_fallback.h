#pragma once

// libpq tries the hosts of a multi-host connection string in order and
// moves on when one refuses or times out, but gives up at the first that
// accepts the TCP connection and then closes it ("server closed the
// connection unexpectedly": a port forwarder or a proxy whose backend is
// down), never trying the next. Open() then tries the hosts that libpq's
// error does not name, one at a time.

#include <string>
#include <vector>

namespace fila::pg {

// The hosts of `conninfo` after the last one that `error` (libpq's message
// of a failed connect) names, each as a connection string of its own that
// keeps every other keyword, in order. Empty when `conninfo` names one
// host, or libpq cannot parse it.
std::vector<std::string> UntriedHosts(const std::string& conninfo, const std::string& error);

}  // namespace fila::pg
