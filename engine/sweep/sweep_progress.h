// Progress of a sweep on stderr: a redrawn bar with ETA when stderr is a terminal, one plain
// line per finished point otherwise (logs of nightly jobs), nothing when quiet.
//
//   SweepProgress p(to_run, done_before, SweepProgress::detect(quiet));
//   p.point_done(record);   // after each point (any rank)
//   p.tick();               // from time to time: redraws the elapsed time on a terminal
//   p.finish();
//
// ETA = elapsed / points finished in this run x points left: it measures the throughput of
// however many ranks run, and is shown once the first point has finished.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "engine/sweep/sweep_record.h"

namespace xbar::engine::sweep {

class SweepProgress {
 public:
  enum class Mode { kNone, kLines, kBar };
  // kBar when stderr is a terminal, kLines otherwise, kNone when quiet.
  static Mode detect(bool quiet);

  SweepProgress(int64_t to_run, int64_t done_before, Mode mode, std::ostream& os);
  void start(const std::string& what);
  void point_done(const PointRecord& r);
  void tick();
  void finish();
  int64_t failed() const { return failed_; }
  int64_t finished() const { return finished_; }

  // "1:02:03" / "4:05" (h:mm:ss or m:ss).
  static std::string clock_text(double seconds);

 private:
  void draw_bar();
  double elapsed_s() const;
  std::string eta_text() const;

  int64_t to_run_, done_before_;
  Mode mode_;
  std::ostream& os_;
  int64_t finished_ = 0, failed_ = 0;
  std::string last_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_ = t0_;
};

}  // namespace xbar::engine::sweep
