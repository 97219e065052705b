#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fila/document/embedder.h"
#include "fila/document/utf8.h"
#include "fila/errors.h"

namespace fila::document {
namespace {

// FNV-1a, 64 bits: stable across platforms and releases, which matters
// because stored vectors must match query vectors embedded later.
uint64_t Hash(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  // Final avalanche (splitmix64) so that nearby strings spread across buckets.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// Lower case for ASCII and Latin-1 letters, which covers English and
// Portuguese; other scripts pass through unchanged.
char32_t Fold(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  return c;
}

bool IsWordChar(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  // Latin-1 punctuation and symbols (U+0080..U+00BF, ×, ÷) separate words;
  // letters of every script join them.
  if (c < 0xC0) return false;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;  // general punctuation: “ ” – …
  return c != 0xFFFD;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t pos = 0; pos < text.size();) {
    char32_t c = NextCodePoint(text, pos);
    if (IsWordChar(c)) {
      AppendUtf8(word, Fold(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

class OfflineEmbedder final : public Embedder {
 public:
  explicit OfflineEmbedder(size_t dimension) : dimension_(dimension) {}

  std::string Descriptor() const override {
    return nlohmann::json{{"kind", "offline"}, {"version", 1}, {"dimension", dimension_}}.dump();
  }
  size_t BatchSize() const override { return 256; }

  std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts,
                                        const EmbedContext&) override {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (const auto& t : texts) out.push_back(One(t));
    return out;
  }

 private:
  void Add(std::vector<float>& v, std::string_view feature, uint64_t seed, float weight) const {
    const uint64_t h = Hash(feature, seed);
    // The sign bit keeps collisions from biasing every bucket upwards.
    v[h % dimension_] += (h >> 63) != 0 ? weight : -weight;
  }

  std::vector<float> One(std::string_view text) const {
    std::vector<float> v(dimension_, 0.0f);
    const std::vector<std::string> words = Words(text);
    for (size_t i = 0; i < words.size(); ++i) {
      Add(v, words[i], 1, 1.0f);
      if (i + 1 < words.size()) Add(v, words[i] + ' ' + words[i + 1], 2, 0.5f);
      // Character trigrams of the padded word catch inflections and typos
      // (decisão / decisões); bytes of one code point are never split.
      const std::string padded = ' ' + words[i] + ' ';
      std::vector<size_t> starts;
      for (size_t p = 0; p < padded.size(); p += SequenceLength(static_cast<unsigned char>(padded[p]))) {
        starts.push_back(p);
      }
      starts.push_back(padded.size());
      for (size_t k = 0; k + 3 < starts.size(); ++k) {
        Add(v, std::string_view(padded).substr(starts[k], starts[k + 3] - starts[k]), 3, 0.25f);
      }
    }
    Normalize(v);
    return v;
  }

  size_t dimension_;
};

}  // namespace

void Normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

std::unique_ptr<Embedder> MakeOfflineEmbedder(size_t dimension) {
  if (dimension < 8 || dimension > 8192) {
    throw PermanentError("embedder.dimension must be between 8 and 8192, not " +
                             std::to_string(dimension),
                         "payload.embedder.dimension");
  }
  return std::make_unique<OfflineEmbedder>(dimension);
}

}  // namespace fila::document
