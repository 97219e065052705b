#pragma once

// Applying a batch of independent items (finishes, claims, progress) when
// the database may refuse one of them for good: that item alone pays.

#include <cstddef>
#include <span>

#include "fila/core/errors.h"

namespace fila {

// Calls apply(items) once. When it throws PermanentError, splits the batch
// in halves and applies each the same way, down to the refused items alone:
// each of those goes to refuse(item, error), which may change it in place.
// `apply` must change nothing when it throws PermanentError.
//
// Items are settled (applied or refused) in order, and `settled` counts the
// leading ones that were. Any other error (TransientError: the database is
// away or slow; or an error of `refuse`) stops the work and propagates; the
// items from `settled` on are untouched, to be retried.
//
// One refused item in a batch of n costs about 2·log2(n) extra calls. The
// recursion is log2(n) deep, not as deep as any input.
template <typename T, typename Apply, typename Refuse>
void ApplyBisecting(std::span<T> items, size_t& settled, Apply&& apply, Refuse&& refuse) {
  if (items.empty()) return;
  try {
    apply(items);
    settled += items.size();
    return;
  } catch (const PermanentError& e) {
    if (items.size() == 1) {
      refuse(items.front(), e);
      settled += 1;
      return;
    }
  }
  const size_t half = items.size() / 2;
  ApplyBisecting(items.first(half), settled, apply, refuse);
  ApplyBisecting(items.subspan(half), settled, apply, refuse);
}

}  // namespace fila
