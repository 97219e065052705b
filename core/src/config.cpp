#include "fila/core/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace fila {

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return value;
}

bool EnvFlag(const char* name) {
  std::string value = EnvOr(name, "");
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string RedactUrl(std::string_view url) {
  // A list of URLs (a RabbitMQ cluster's nodes) has a password in each: the
  // password of each "scheme://" is looked for before the next one.
  std::string redacted;
  size_t copied = 0;
  for (size_t scheme = url.find("://"); scheme != std::string_view::npos;) {
    const size_t next = url.find("://", scheme + 3);
    const size_t end = next == std::string_view::npos ? url.size() : next;
    const size_t at = url.substr(0, end).find('@', scheme + 3);
    const size_t colon = url.substr(0, at == std::string_view::npos ? end : at).find(':', scheme + 3);
    if (at != std::string_view::npos && colon != std::string_view::npos) {
      redacted.append(url.substr(copied, colon + 1 - copied)).append("***");
      copied = at;
    }
    scheme = next;
  }
  redacted.append(url.substr(copied));
  return redacted;
}

namespace {

// The redactor's scanners run on every log line, including lines that
// quote input (a 100 KB URL): each pass is one left-to-right scan that
// never re-reads what it has passed, so the time is linear and nothing
// recurses (std::regex's backtracking executor recursed once per character
// and overflowed the stack). Each pass masks what one pattern of the
// contract in config.h describes, in the order the patterns are listed.

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWord(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }
bool IsSchemeChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '+' || c == '.' || c == '-'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsCredentialChar(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' ||
         c == '-';
}
bool EndsPairValue(char c) {
  return IsSpace(c) || c == '&' || c == '"' || c == '\'' || c == ',' || c == ';' || c == '}';
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether `text` at `at` starts with the lowercase `word`, ignoring case.
bool StartsWithNoCase(std::string_view text, size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (Lower(text[at + i]) != word[i]) return false;
  }
  return true;
}

// scheme://user:PASSWORD@ (scheme: a letter, then letters, digits, + . -;
// user: no ':', '/', '@' or space; password: up to the first '@', no space).
std::string MaskUrlPasswords(std::string_view text) {
  std::string out;
  size_t copied = 0;
  size_t no_at_before = 0;  // a password scan from below here reaches a space or the end first
  for (size_t p = text.find("://"); p != std::string_view::npos; p = text.find("://", p + 1)) {
    if (p < copied) continue;
    size_t s = p;
    bool letter = false;
    while (s > copied && IsSchemeChar(text[s - 1])) letter |= IsAlpha(text[--s]);
    if (!letter) continue;
    size_t i = p + 3;
    while (i < text.size() && text[i] != ':' && text[i] != '/' && text[i] != '@' && !IsSpace(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    const size_t password = i + 1;
    if (password < no_at_before) continue;
    size_t j = password;
    while (j < text.size() && text[j] != '@' && !IsSpace(text[j])) ++j;
    if (j >= text.size() || text[j] != '@') {
      no_at_before = j;
      continue;
    }
    if (j == password) continue;
    out.append(text.substr(copied, password - copied)).append("***@");
    copied = j + 1;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// "Bearer TOKEN" / "Basic TOKEN" in any case: the token is masked.
std::string MaskAuthorizationTokens(std::string_view text) {
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    size_t end = 0;
    if (StartsWithNoCase(text, i, "bearer")) end = i + 6;
    else if (StartsWithNoCase(text, i, "basic")) end = i + 5;
    else continue;
    size_t token = end;
    while (token < text.size() && IsSpace(text[token])) ++token;
    if (token == end || token >= text.size() || !IsCredentialChar(text[token])) continue;
    size_t stop = token;
    while (stop < text.size() && IsCredentialChar(text[stop])) ++stop;
    out.append(text.substr(copied, token - copied)).append("***");
    copied = stop;
    i = stop - 1;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// fila API tokens: fila_ and at least 16 lowercase hex digits, at a word start.
std::string MaskFilaTokens(std::string_view text) {
  std::string out;
  size_t copied = 0;
  for (size_t p = text.find("fila_"); p != std::string_view::npos; p = text.find("fila_", p + 1)) {
    if (p < copied || (p > 0 && IsWord(text[p - 1]))) continue;
    size_t end = p + 5;
    while (end < text.size() && IsLowerHex(text[end])) ++end;
    if (end - (p + 5) < 16) continue;
    out.append(text.substr(copied, p - copied)).append("fila_***");
    copied = end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// The length of the secret-naming key at `at` (password, passwd, pwd,
// secret, token, api[_-]key, app[_-]key, app[_-]secret, access[_-]key, in
// any case), or 0.
size_t KeyAt(std::string_view text, size_t at) {
  for (std::string_view word : {"password", "passwd", "pwd", "secret", "token"}) {
    if (StartsWithNoCase(text, at, word)) return word.size();
  }
  for (std::string_view stem : {"api", "app", "access"}) {
    if (!StartsWithNoCase(text, at, stem)) continue;
    size_t i = at + stem.size();
    if (i < text.size() && (text[i] == '_' || text[i] == '-') && StartsWithNoCase(text, i + 1, "key")) {
      return i + 4 - at;
    }
    if (StartsWithNoCase(text, i, "key")) return i + 3 - at;
    if (stem == "app") {
      if (i < text.size() && (text[i] == '_' || text[i] == '-') && StartsWithNoCase(text, i + 1, "secret")) {
        return i + 7 - at;
      }
      if (StartsWithNoCase(text, i, "secret")) return i + 6 - at;
    }
  }
  return 0;
}

// KEY=value, KEY: value, "KEY":"value" (libpq conninfo, query strings,
// JSON): the value, up to a space or one of & " ' , ; }, is masked.
std::string MaskSecretPairs(std::string_view text) {
  std::string out;
  size_t copied = 0;
  for (size_t at = 0; at < text.size(); ++at) {
    const size_t key = KeyAt(text, at);
    if (key == 0) continue;
    size_t i = at + key;
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i >= text.size() || (text[i] != '=' && text[i] != ':')) continue;
    ++i;
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
    size_t end = i;
    while (end < text.size() && !EndsPairValue(text[end])) ++end;
    if (end == i) continue;
    out.append(text.substr(copied, i - copied)).append("***");
    copied = end;
    at = end - 1;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

}  // namespace

std::string RedactSecrets(std::string_view text) {
  return MaskSecretPairs(MaskFilaTokens(MaskAuthorizationTokens(MaskUrlPasswords(text))));
}

std::vector<std::string> SplitList(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace fila
