#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fila::nfe {

// The modulus-11 check digit (weights 2..9 from the right, 0 for a
// remainder of 0 or 1) of `digits`, which must be all ASCII digits; -1 when
// it holds anything else or is empty.
int Mod11CheckDigit(std::string_view digits);

// The fields a 44-digit NF-e/NFC-e access key encodes (layout in
// docs/nfe-download.md), as the digit strings of the key.
struct AccessKeyFields {
  std::string cuf;     // 2
  std::string aamm;    // 4: YYMM of emission
  std::string cnpj;    // 14: issuer CNPJ, or CPF left-padded with zeros
  std::string mod;     // 2
  std::string serie;   // 3
  std::string nnf;     // 9
  std::string tpemis;  // 1
  std::string cnf;     // 8
  std::string cdv;     // 1
};

// Splits `key` when it is exactly 44 ASCII digits; nullopt otherwise.
std::optional<AccessKeyFields> SplitAccessKey(std::string_view key);

// True when `key` is 44 digits whose last is the check digit of the rest.
bool AccessKeyValid(std::string_view key);

}  // namespace fila::nfe
