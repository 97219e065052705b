#include "fila/core/task_filter.h"

#include <cctype>

#include "fila/core/errors.h"

namespace fila {
namespace {

[[noreturn]] void Bad(const std::string& what, size_t at) {
  throw PermanentError("where: " + what + " at character " + std::to_string(at + 1) +
                           " (expected: args.<field>[.<field>...] = <JSON string, number, true, "
                           "false or null>, or !=)",
                       "where");
}

bool IdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IdentChar(char c) { return IdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// The end of the JSON string starting at `at` (a quote), escapes checked.
size_t StringEnd(std::string_view s, size_t at) {
  size_t i = at + 1;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) Bad("a control character inside the string", i);
    if (c == '\\') {
      if (i + 1 >= s.size()) break;
      const char e = s[i + 1];
      if (e == 'u') {
        for (size_t k = 2; k < 6; ++k) {
          if (i + k >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + k]))) {
            Bad("a \\u escape needs four hex digits", i);
          }
        }
        i += 6;
        continue;
      }
      if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) Bad("an unknown escape", i);
      i += 2;
      continue;
    }
    ++i;
  }
  Bad("the string is not closed", at);
}

// The end of the JSON number starting at `at` (RFC 8259 grammar).
size_t NumberEnd(std::string_view s, size_t at) {
  size_t i = at;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (digits() == 0) {
    Bad("a malformed number", at);
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) Bad("a malformed number", at);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) Bad("a malformed number", at);
  }
  return i;
}

}  // namespace

PayloadWhere ParseWhere(std::string_view text) {
  if (text.size() > kMaxWhereLength) {
    throw PermanentError("where: longer than " + std::to_string(kMaxWhereLength) + " characters",
                         "where");
  }
  PayloadWhere out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  skip_space();
  if (i >= text.size()) Bad("the condition is empty", i);
  // The path: identifiers joined by dots; the first must be args.
  bool first = true;
  while (true) {
    if (i >= text.size() || !IdentStart(text[i])) Bad("a field name must start with a letter or _", i);
    const size_t from = i;
    while (i < text.size() && IdentChar(text[i])) ++i;
    std::string name(text.substr(from, i - from));
    if (first) {
      if (name != "args") Bad("the path must start with args. (the payload), not '" + name + "'", from);
      first = false;
    } else {
      if (out.path.size() >= kMaxWherePath) {
        Bad("the path is deeper than " + std::to_string(kMaxWherePath) + " fields", from);
      }
      out.path.push_back(std::move(name));
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      continue;
    }
    break;
  }
  if (out.path.empty()) Bad("name a field of the payload: args.<field>", i);
  skip_space();
  if (text.substr(i, 2) == "!=") {
    out.equal = false;
    i += 2;
  } else if (i < text.size() && text[i] == '=') {
    i += text.substr(i, 2) == "==" ? 2 : 1;
  } else {
    Bad("expected = or !=", i);
  }
  skip_space();
  if (i >= text.size()) Bad("a value is missing after the operator", i);
  const size_t from = i;
  const char c = text[i];
  if (c == '"') {
    i = StringEnd(text, i);
  } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
    i = NumberEnd(text, i);
  } else if (text.substr(i, 4) == "true" || text.substr(i, 4) == "null") {
    i += 4;
  } else if (text.substr(i, 5) == "false") {
    i += 5;
  } else if (c == '{' || c == '[') {
    Bad("the value must be a JSON scalar, not an object or an array", i);
  } else {
    Bad("the value must be JSON: a \"quoted string\", a number, true, false or null", i);
  }
  out.literal = std::string(text.substr(from, i - from));
  skip_space();
  if (i != text.size()) Bad("unexpected text after the value", i);
  return out;
}

std::string ContainmentJson(const PayloadWhere& where) {
  std::string out;
  for (const auto& name : where.path) out += "{\"" + name + "\":";  // names are identifiers
  out += where.literal;
  out.append(where.path.size(), '}');
  return out;
}

std::string ToString(const PayloadWhere& where) {
  std::string out = "args";
  for (const auto& name : where.path) out += "." + name;
  return out + (where.equal ? " = " : " != ") + where.literal;
}

}  // namespace fila

#include "fila/core/console_store.h"

namespace fila {

std::string_view ToString(BulkAction action) {
  switch (action) {
    case BulkAction::kRetry: return "retry";
    case BulkAction::kCancel: return "cancel";
    case BulkAction::kDelete: return "delete";
  }
  return "retry";
}

std::optional<BulkAction> ParseBulkAction(std::string_view text) {
  if (text == "retry") return BulkAction::kRetry;
  if (text == "cancel") return BulkAction::kCancel;
  if (text == "delete") return BulkAction::kDelete;
  return std::nullopt;
}

}  // namespace fila
