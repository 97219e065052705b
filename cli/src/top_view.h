#pragma once

// `fila top` without the terminal: formatting, rates and the layout of a
// frame as lines of text. Pure functions, unit tested.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fila/core/monitor.h"

namespace fila::cli {

// 0.4s, 12.3s, 3m04s, 2h05m, 4d03h; negative counts as 0.
std::string FormatDuration(double seconds);
// 999999 at most six characters: 12, 123456, 1.2M, 123M, 1.5G.
std::string FormatCount(uint64_t n);
// Finished tasks per second: 0.4/s, 12/s, 1.2k/s; "-" when unknown.
std::string FormatRate(std::optional<double> per_second);

// `text` safe to print: control characters (a handler's progress message
// could carry escape sequences) and, unless `unicode`, every non-ASCII byte
// become '?'; invalid UTF-8 too.
std::string Sanitize(std::string_view text, bool unicode);
// Columns `text` takes: one per code point (wide CJK characters are not
// told apart).
size_t DisplayWidth(std::string_view text);
// `text` in exactly `width` columns: padded with spaces (on the left when
// `right`), or cut with an ellipsis ("…", or "~" unless `unicode`).
std::string Fit(std::string_view text, size_t width, bool right, bool unicode);

// Finished tasks per second by queue, from the workers' cumulative
// finished_by_queue counters, averaged over the last `window_seconds` of
// snapshots. Counters of a worker that restarted or disappeared never count
// backwards; a worker that started after the previous snapshot counts all
// its finishes.
class RateTracker final {
 public:
  explicit RateTracker(double window_seconds = 10) : window_ms_(window_seconds * 1000) {}
  void Add(const MonitorSnapshot& snapshot);
  // nullopt until two snapshots some time apart were added.
  std::optional<double> Rate(const std::string& queue) const;

 private:
  struct Seen {
    int64_t started_at_ms = 0;
    int64_t pid = 0;
    std::map<std::string, uint64_t> finished;
  };
  struct Point {
    int64_t at_ms = 0;
    std::map<std::string, uint64_t> totals;
  };
  double window_ms_;
  std::map<std::string, Seen> workers_;
  std::map<std::string, uint64_t> totals_;  // finishes seen since the first snapshot
  std::deque<Point> points_;
};

struct TopFrame {
  const MonitorSnapshot* snapshot = nullptr;  // null before the first success
  const RateTracker* rates = nullptr;
  std::string source;      // where the data comes from, e.g. "database postgresql://…"
  std::string clock;       // local time of the frame, HH:MM:SS
  std::string error;       // the last refresh's error; "" when it succeeded
  std::string data_clock;  // when `snapshot` was fetched, shown with an error
  double interval_seconds = 1;
  bool interactive = false;  // mention the q key
};

struct RenderOptions {
  size_t width = 80;
  bool unicode = true;
  // Task ids (36 characters) in full from this width on, else their first 8.
  size_t full_id_width = 100;
};

// The frame as lines, none wider than `options.width` columns.
std::vector<std::string> RenderTop(const TopFrame& frame, const RenderOptions& options);
// At most `rows` lines: the last kept one says how many were cut.
std::vector<std::string> FitHeight(std::vector<std::string> lines, size_t rows, size_t width,
                                   bool unicode);

}  // namespace fila::cli
