#pragma once

// Which delivery tags of one AMQP channel are still unsettled, so that a
// batch of acks can go out as one `basic.ack multiple` for the settled
// prefix plus single acks for the rest. Pure logic, no I/O.

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace fila::rabbitmq {

// Not thread-safe: it belongs to the thread that owns the channel.
class AckWindow final {
 public:
  // What to send for a batch: `multiple_up_to` (0: none; else a tag of the
  // batch) acks every unsettled tag up to it at once; `singles` are acked
  // one by one.
  struct Plan {
    uint64_t multiple_up_to = 0;
    std::vector<uint64_t> singles;
  };

  // A tag the broker delivered. Tags of a channel increase; a gap (never
  // expected) counts as settled.
  void Delivered(uint64_t tag);
  // Marks one tag settled (acked singly, rejected, nacked). False if it was
  // not outstanding: then nothing may be sent for it, since settling a tag
  // twice closes the channel.
  bool Settle(uint64_t tag);
  // Marks `tags` settled and says how to ack them; tags not outstanding
  // (twice in the batch, already settled, never delivered) are left out.
  Plan Ack(std::span<const uint64_t> tags);
  // A new channel: tags start again at 1.
  void Reset();

  size_t Outstanding() const { return outstanding_; }

 private:
  bool IsOutstanding(uint64_t tag) const;
  // Drops settled tags from the front; returns the last tag dropped, or 0.
  uint64_t Compact();

  // state_[i] is tag base_ + i: true while outstanding. Its length is the
  // span from the oldest outstanding tag to the newest delivered one: a
  // task that runs for minutes while thousands of later ones finish keeps
  // a byte per later tag (a few MB at most), released once it settles.
  std::deque<bool> state_;
  uint64_t base_ = 1;
  size_t outstanding_ = 0;
};

}  // namespace fila::rabbitmq
