#include "attempts.h"

#include <sys/random.h>

#include <array>
#include <cerrno>

#include "fila/core/errors.h"

namespace fila::callbacks {
namespace {

constexpr size_t kTokenBytes = 16;

std::string RandomToken() {
  std::array<unsigned char, kTokenBytes> bytes{};
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw TransientError("getrandom failed: no callback token");
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(kTokenBytes * 2);
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

}  // namespace

bool WellFormedToken(std::string_view token) {
  if (token.size() != kTokenBytes * 2) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string AttemptTable::Open(TaskContext& context) {
  auto entry = std::make_shared<Entry>();
  entry->context = &context;
  std::lock_guard lock(mutex_);
  for (;;) {
    std::string token = RandomToken();
    if (open_.emplace(token, entry).second) return token;
  }
}

void AttemptTable::Close(const std::string& token) {
  std::unique_lock lock(mutex_);
  auto it = open_.find(token);
  if (it == open_.end()) return;
  std::shared_ptr<Entry> entry = std::move(it->second);
  open_.erase(it);
  idle_.wait(lock, [&] { return entry->calls == 0; });
}

bool AttemptTable::With(std::string_view token, const std::function<void(TaskContext&)>& call) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mutex_);
    auto it = open_.find(std::string(token));
    if (it == open_.end()) return false;
    entry = it->second;
    ++entry->calls;
  }
  struct Done {
    AttemptTable& table;
    Entry& entry;
    ~Done() {
      std::lock_guard lock(table.mutex_);
      if (--entry.calls == 0) table.idle_.notify_all();
    }
  } done{*this, *entry};
  call(*entry->context);
  return true;
}

size_t AttemptTable::Size() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

}  // namespace fila::callbacks
