#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fila/core/store_types.h"

namespace fila {

// API tokens. Errors as in WorkerStore.
class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // The token is returned once; only its SHA-256 is stored.
  virtual std::pair<TokenInfo, std::string> CreateToken(const std::string& tenant,
                                                        const std::string& role) = 0;
  // The live (not revoked) token with this secret, if any.
  virtual std::optional<TokenInfo> Authenticate(const std::string& token) = 0;
  virtual bool RevokeToken(const std::string& id) = 0;
  virtual std::vector<TokenInfo> ListTokens() = 0;
};

}  // namespace fila
