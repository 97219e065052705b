#pragma once

// The signer certificate's chain against an operator's trust bundle
// (OpenSSL; private to the nfe library).

#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace fila::nfe {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// "/C=BR/O=ICP-Brasil/.../CN=NAME:CNPJ".
std::string Subject(X509* cert);

// "trusted", or "untrusted: <reason>" (the bundle cannot be read, no path
// to a trusted CA, revoked, expired at `signed_at`...). `bundle` is a PEM
// file, loaded once per process and path; `others` are the intermediates
// the document carries. `signed_at` 0: now. Thread-safe.
std::string CheckChain(const std::string& bundle, X509* leaf, const std::vector<X509Ptr>& others,
                       std::time_t signed_at);

}  // namespace fila::nfe
