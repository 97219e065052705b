#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "fila/core/errors.h"
#include "fila/document/embedder.h"
#include "fila/document/utf8.h"

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

// Words so frequent in English and Portuguese that they say nothing about
// a chunk: as unigrams they would make every long chunk look alike.
bool IsStopWord(const std::string& w) {
  static const std::unordered_set<std::string> kStop{
      "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on", "or",
      "that", "the", "this", "to", "was", "with", "o", "os", "as", "um", "uma", "de", "da", "do", "das",
      "dos", "e", "em", "no", "na", "nos", "nas", "que", "se", "por", "para", "com", "ao", "à", "é"};
  return kStop.contains(w);
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
  using Features = std::unordered_map<uint64_t, std::pair<float, uint32_t>>;  // hash -> weight, count

  static void Add(Features& f, std::string_view feature, uint64_t seed, float weight) {
    auto& [w, n] = f[Hash(feature, seed)];
    w = weight;
    ++n;
  }

  std::vector<float> One(std::string_view text) const {
    Features features;
    const std::vector<std::string> words = Words(text);
    for (size_t i = 0; i < words.size(); ++i) {
      if (!IsStopWord(words[i])) Add(features, words[i], 1, 1.0f);
      if (i + 1 < words.size()) Add(features, words[i] + ' ' + words[i + 1], 2, 0.7f);
      // Character trigrams of the padded word catch inflections and typos
      // (decisão / decisões); bytes of one code point are never split.
      const std::string padded = ' ' + words[i] + ' ';
      std::vector<size_t> starts;
      for (size_t p = 0; p < padded.size(); p += SequenceLength(static_cast<unsigned char>(padded[p]))) {
        starts.push_back(p);
      }
      starts.push_back(padded.size());
      for (size_t k = 0; k + 3 < starts.size(); ++k) {
        Add(features, std::string_view(padded).substr(starts[k], starts[k + 3] - starts[k]), 3, 0.15f);
      }
    }
    std::vector<float> v(dimension_, 0.0f);
    for (const auto& [h, wn] : features) {
      // Sublinear term frequency: a word said ten times is not ten times
      // more telling. The sign bit keeps collisions from biasing buckets.
      const float weight = wn.first * (1.0f + std::log(static_cast<float>(wn.second)));
      v[h % dimension_] += (h >> 63) != 0 ? weight : -weight;
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
