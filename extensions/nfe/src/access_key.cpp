#include "fila/nfe/access_key.h"

namespace fila::nfe {

int Mod11CheckDigit(std::string_view digits) {
  if (digits.empty()) return -1;
  int sum = 0;
  int weight = 2;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return -1;
    sum += (*it - '0') * weight;
    weight = weight == 9 ? 2 : weight + 1;
  }
  const int r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

std::optional<AccessKeyFields> SplitAccessKey(std::string_view key) {
  if (key.size() != 44) return std::nullopt;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  auto at = [&](size_t pos, size_t len) { return std::string(key.substr(pos, len)); };
  return AccessKeyFields{at(0, 2), at(2, 4), at(6, 14), at(20, 2), at(22, 3),
                         at(25, 9), at(34, 1), at(35, 8), at(43, 1)};
}

bool AccessKeyValid(std::string_view key) {
  if (!SplitAccessKey(key)) return false;
  return Mod11CheckDigit(key.substr(0, 43)) == key[43] - '0';
}

}  // namespace fila::nfe
