#include "top_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace fila::cli {
namespace {

// Bytes of the UTF-8 sequence starting at text[i]; 0 when invalid.
size_t SequenceLength(std::string_view text, size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return 0;
  }
  return len;
}

bool Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The first `columns` code points of sanitized `text`.
std::string_view Prefix(std::string_view text, size_t columns) {
  size_t i = 0;
  for (size_t seen = 0; i < text.size(); ++i) {
    if (!Continuation(text[i]) && seen++ == columns) break;
  }
  return text.substr(0, i);
}

std::string Ellipsis(bool unicode) { return unicode ? "\u2026" : "~"; }

// Cuts an assembled line to `width` columns (its parts are sanitized).
std::string Clip(std::string line, size_t width, bool unicode) {
  if (DisplayWidth(line) > width) {
    line = width == 0 ? "" : std::string(Prefix(line, width - 1)) + Ellipsis(unicode);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

struct Cell {
  std::string text;
  size_t width;
  bool right = false;
};

std::string Row(const std::vector<Cell>& cells, const RenderOptions& o,
                std::string_view indent = "") {
  std::string line(indent);
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += ' ';
    line += Fit(cells[i].text, cells[i].width, cells[i].right, o.unicode);
  }
  return Clip(std::move(line), o.width, o.unicode);
}

// Flexible columns share what the fixed ones leave, in proportion to their
// weights, at least 1 column each (Clip cuts whatever still overflows).
std::vector<size_t> Share(size_t width, size_t fixed, std::initializer_list<size_t> weights) {
  size_t total = 0;
  for (size_t w : weights) total += w;
  const size_t available = width > fixed ? width - fixed : 0;
  std::vector<size_t> out;
  size_t given = 0;
  for (size_t w : weights) {
    out.push_back(std::max<size_t>(1, available * w / total));
    given += out.back();
  }
  if (available > given) out.front() += available - given;
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string StatusLine(const TopFrame& f) {
  char every[32];
  std::snprintf(every, sizeof(every), "%.1fs", f.interval_seconds);
  if (!f.error.empty()) {
    std::string line = "error: " + f.error + " (retrying every " + every;
    if (f.snapshot != nullptr && !f.data_clock.empty()) line += "; data below from " + f.data_clock;
    return line + ")";
  }
  if (f.snapshot == nullptr) return "connecting";
  const MonitorSnapshot& s = *f.snapshot;
  size_t live = 0, stale = 0, busy = 0, slots = 0;
  for (const auto& w : s.workers) {
    if (w.stale) {
      stale += w.deregistered ? 0 : 1;
    } else {
      ++live;
      busy += w.running.size();
      slots += w.concurrency;
    }
  }
  std::string line = std::to_string(live) + " worker" + (live == 1 ? "" : "s");
  if (stale > 0) line += ", " + std::to_string(stale) + " stale";
  line += "   slots " + std::to_string(busy) + "/" + std::to_string(slots) + " busy";
  line += "   outbox " + FormatCount(static_cast<uint64_t>(std::max<int64_t>(0, s.outbox_rows)));
  if (s.outbox_rows > 0) line += " (lag " + FormatDuration(s.outbox_lag_seconds) + ")";
  if (s.workers_hidden > 0) {
    line += "   " + std::to_string(s.workers_hidden) + " silent over 1h not shown";
  }
  return line;
}

void QueueTable(const TopFrame& f, const RenderOptions& o, std::vector<std::string>& lines) {
  const MonitorSnapshot& s = *f.snapshot;
  // Every queue with unfinished tasks, consumers or finishes.
  std::map<std::string, QueueSample> queues;
  for (const auto& q : s.queues) queues[q.queue] = q;
  for (const auto& w : s.workers) {
    for (const auto& q : w.queues) queues[q].queue = q;
    for (const auto& [q, n] : w.finished_by_queue) queues[q].queue = q;
  }
  const bool counts = o.width >= 60;  // scheduled and running when they fit
  const size_t fixed = 7 + 7 + 8 + (counts ? 6 + 5 : 0) + (counts ? 5 : 3);
  const size_t name = Share(o.width, fixed, {1})[0];
  auto row = [&](std::string queue, std::string queued, std::string scheduled, std::string running,
                 std::string oldest, std::string rate) {
    std::vector<Cell> cells{{std::move(queue), name}, {std::move(queued), 7, true}};
    if (counts) {
      cells.push_back({std::move(scheduled), 6, true});
      cells.push_back({std::move(running), 5, true});
    }
    cells.push_back({std::move(oldest), 7, true});
    cells.push_back({std::move(rate), 8, true});
    lines.push_back(Row(cells, o));
  };
  row("QUEUE", "QUEUED", "SCHED", "RUN", "OLDEST", "RATE");
  for (const auto& [queue, q] : queues) {
    row(queue, FormatCount(q.queued), FormatCount(q.scheduled), FormatCount(q.running),
        q.queued > 0 ? FormatDuration(q.oldest_queued_age_seconds) : "-",
        FormatRate(f.rates != nullptr ? f.rates->Rate(queue) : std::nullopt));
  }
  if (queues.empty()) lines.push_back("(no queues)");
}

void WorkerTable(const TopFrame& f, const RenderOptions& o, std::vector<std::string>& lines) {
  // Below 60 columns the host and the queues make way for the numbers.
  const bool narrow = o.width < 60;
  const auto w3 = narrow ? Share(o.width, 5 + 6 + 5 + 11 + 4, {1})
                         : Share(o.width, 5 + 6 + 5 + 11 + 6, {5, 3, 4});
  auto worker_row = [&](std::string id, std::string host, std::string queues, std::string slots,
                        std::string done, std::string failed, std::string beat) {
    std::vector<Cell> cells{{std::move(id), w3[0]}};
    if (!narrow) {
      cells.push_back({std::move(host), w3[1]});
      cells.push_back({std::move(queues), w3[2]});
    }
    cells.insert(cells.end(), {{std::move(slots), 5, true},
                               {std::move(done), 6, true},
                               {std::move(failed), 5, true},
                               {std::move(beat), 11, true}});
    lines.push_back(Row(cells, o));
  };
  const bool full_ids = o.width >= o.full_id_width;
  const size_t id_width = full_ids ? 36 : 9;
  const auto t3 = narrow ? Share(o.width, 2 + id_width + 7 + 4 + 4, {1, 1})
                         : Share(o.width, 2 + id_width + 3 + 7 + 4 + 6, {4, 3, 7});
  auto task_row = [&](std::string id, std::string type, std::string queue, std::string attempt,
                      std::string elapsed, std::string progress, std::string message) {
    std::vector<Cell> cells{{std::move(id), id_width}, {std::move(type), t3[0]}};
    if (!narrow) {
      cells.push_back({std::move(queue), t3[1]});
      cells.push_back({std::move(attempt), 3, true});
    }
    cells.insert(cells.end(), {{std::move(elapsed), 7, true},
                               {std::move(progress), 4, true},
                               {std::move(message), t3.back()}});
    lines.push_back(Row(cells, o, "  "));
  };
  worker_row("WORKER", "HOST", "QUEUES", "SLOTS", "DONE", "FAIL", "HEARTBEAT");
  task_row("TASK", "TYPE", "QUEUE", "TRY", "ELAPSED", "PROG", "MESSAGE");
  for (const auto& w : f.snapshot->workers) {
    const std::string busy = std::to_string(w.running.size());
    if (w.deregistered) {
      worker_row(w.id, "-", "-", busy + "/-", "-", "-", "gone");
    } else {
      std::string age = FormatDuration(w.heartbeat_age_seconds);
      worker_row(w.id, w.hostname, Join(w.queues), busy + "/" + std::to_string(w.concurrency),
                 FormatCount(w.succeeded), FormatCount(w.failed), w.stale ? "stale " + age : age);
    }
    for (const auto& t : w.running) {
      const std::string id =
          full_ids || t.id.size() <= 8 ? t.id : t.id.substr(0, 8) + Ellipsis(o.unicode);
      task_row(id, t.type, t.queue, std::to_string(t.attempt), FormatDuration(t.elapsed_seconds),
               std::to_string(t.progress) + "%", t.progress_message);
    }
  }
  if (f.snapshot->workers.empty()) lines.push_back("(no workers)");
}

}  // namespace

std::string FormatDuration(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // NaN too
  char out[32];
  if (seconds < 60) {
    std::snprintf(out, sizeof(out), "%.1fs", std::floor(seconds * 10) / 10);
    return out;
  }
  const auto s = static_cast<long long>(seconds);
  if (s < 3600) {
    std::snprintf(out, sizeof(out), "%lldm%02llds", s / 60, s % 60);
  } else if (s < 100 * 3600) {
    std::snprintf(out, sizeof(out), "%lldh%02lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(out, sizeof(out), "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  }
  return out;
}

std::string FormatCount(uint64_t n) {
  if (n < 1000000) return std::to_string(n);
  constexpr std::pair<double, char> kUnits[] = {{1e12, 'T'}, {1e9, 'G'}, {1e6, 'M'}};
  for (const auto& [unit, suffix] : kUnits) {
    if (static_cast<double>(n) < unit) continue;
    const double v = static_cast<double>(n) / unit;
    char out[32];
    std::snprintf(out, sizeof(out), v < 10 ? "%.1f%c" : "%.0f%c", std::floor(v * 10) / 10, suffix);
    return out;
  }
  return std::to_string(n);
}

std::string FormatRate(std::optional<double> per_second) {
  if (!per_second) return "-";
  const double r = std::max(0.0, *per_second);
  char out[32];
  if (r < 10) {
    std::snprintf(out, sizeof(out), "%.1f/s", r);
  } else if (r < 1000) {
    std::snprintf(out, sizeof(out), "%.0f/s", r);
  } else {
    std::snprintf(out, sizeof(out), "%.1fk/s", r / 1000);
  }
  return out;
}

std::string Sanitize(std::string_view text, bool unicode) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += c == '\t' ? ' ' : (c < 0x20 || c == 0x7F) ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t len = SequenceLength(text, i);
    // U+0080..U+009F are C1 controls (CSI among them).
    const bool c1 = len == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (len > 0 && unicode && !c1) {
      out.append(text.substr(i, len));
    } else {
      out += '?';
    }
    i += len > 0 ? len : 1;
  }
  return out;
}

size_t DisplayWidth(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !Continuation(c); }));
}

std::string Fit(std::string_view text, size_t width, bool right, bool unicode) {
  std::string s = Sanitize(text, unicode);
  const size_t w = DisplayWidth(s);
  if (w > width) return width == 0 ? "" : std::string(Prefix(s, width - 1)) + Ellipsis(unicode);
  const std::string pad(width - w, ' ');
  return right ? pad + s : s + pad;
}

void RateTracker::Add(const MonitorSnapshot& s) {
  if (!points_.empty() && s.taken_at_ms <= points_.back().at_ms) return;
  const int64_t previous_at = points_.empty() ? -1 : points_.back().at_ms;
  std::map<std::string, Seen> now;
  for (const auto& w : s.workers) {
    if (w.deregistered) continue;
    auto it = workers_.find(w.id);
    const bool same = it != workers_.end() && it->second.started_at_ms == w.started_at_ms &&
                      it->second.pid == w.pid;
    // Started since the last snapshot: all its finishes are this interval's.
    const bool fresh = !same && previous_at >= 0 && w.started_at_ms > previous_at;
    for (const auto& [queue, n] : w.finished_by_queue) {
      uint64_t before = n;  // a worker first seen at top's start: its past is not a rate
      if (same) {
        auto f = it->second.finished.find(queue);
        before = f == it->second.finished.end() ? 0 : f->second;
      } else if (fresh) {
        before = 0;
      }
      totals_[queue] += n > before ? n - before : 0;  // a restart with the same id resets
    }
    now[w.id] = {w.started_at_ms, w.pid, w.finished_by_queue};
  }
  workers_ = std::move(now);
  points_.push_back({s.taken_at_ms, totals_});
  while (points_.size() > 2 && points_[1].at_ms <= s.taken_at_ms - window_ms_) points_.pop_front();
}

std::optional<double> RateTracker::Rate(const std::string& queue) const {
  if (points_.size() < 2) return std::nullopt;
  auto total = [&](const Point& p) {
    auto it = p.totals.find(queue);
    return it == p.totals.end() ? uint64_t{0} : it->second;
  };
  const double seconds = static_cast<double>(points_.back().at_ms - points_.front().at_ms) / 1000;
  return static_cast<double>(total(points_.back()) - total(points_.front())) / seconds;
}

std::vector<std::string> RenderTop(const TopFrame& f, const RenderOptions& options) {
  RenderOptions o = options;
  o.width = std::max<size_t>(o.width, 1);
  std::vector<std::string> lines;
  const std::string right = (f.interactive ? "q quits  " : "") + f.clock;
  const std::string left = "fila top  " + Sanitize(f.source, o.unicode);
  if (o.width > right.size() + 12) {
    lines.push_back(Fit(left, o.width - right.size() - 1, false, o.unicode) + " " + right);
  } else {
    lines.push_back(Clip(left, o.width, o.unicode));
  }
  lines.push_back(Clip(Sanitize(StatusLine(f), o.unicode), o.width, o.unicode));
  if (f.snapshot == nullptr) return lines;
  lines.emplace_back();
  QueueTable(f, o, lines);
  lines.emplace_back();
  WorkerTable(f, o, lines);
  return lines;
}

std::vector<std::string> FitHeight(std::vector<std::string> lines, size_t rows, size_t width,
                                   bool unicode) {
  if (lines.size() <= rows) return lines;
  if (rows == 0) return {};
  const size_t cut = lines.size() - (rows - 1);
  lines.resize(rows - 1);
  lines.push_back(
      Clip(Ellipsis(unicode) + " " + std::to_string(cut) + " more line(s): enlarge the window",
           width, unicode));
  return lines;
}

}  // namespace fila::cli
