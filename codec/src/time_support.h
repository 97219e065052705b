#pragma once

// Timestamps: the domain keeps Unix milliseconds with 0 for "not set"; the
// messages keep google.protobuf.Timestamp, absent when not set.

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <cstdint>

namespace fila::codec {

// Sets the field (through its mutable accessor) only when the time is known.
template <typename Mutable>
void SetTime(int64_t unix_ms, Mutable&& mutable_field) {
  if (unix_ms != 0) *mutable_field() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(unix_ms);
}

inline int64_t Ms(const google::protobuf::Timestamp& t) {
  return t.seconds() == 0 && t.nanos() == 0 ? 0 : google::protobuf::util::TimeUtil::TimestampToMilliseconds(t);
}

}  // namespace fila::codec
