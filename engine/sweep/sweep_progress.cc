#include "engine/sweep/sweep_progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace xbar::engine::sweep {

namespace {
constexpr int kBarWidth = 24;
// A terminal bar is redrawn by tick() at most this often (the elapsed time moves).
constexpr double kRedrawInterval_s = 1.0;
}  // namespace

SweepProgress::Mode SweepProgress::detect(bool quiet) {
  if (quiet) return Mode::kNone;
  return isatty(STDERR_FILENO) ? Mode::kBar : Mode::kLines;
}

SweepProgress::SweepProgress(int64_t to_run, int64_t done_before, Mode mode, std::ostream& os)
    : to_run_(to_run), done_before_(done_before), mode_(mode), os_(os) {}

double SweepProgress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

std::string SweepProgress::clock_text(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  const int64_t t = int64_t(std::llround(s));
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60), (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

std::string SweepProgress::eta_text() const {
  if (finished_ == 0) return "ETA --:--";
  const double per = elapsed_s() / double(finished_);
  return "ETA " + clock_text(per * double(to_run_ - finished_));
}

void SweepProgress::start(const std::string& what) {
  if (mode_ == Mode::kNone) return;
  os_ << "xbar sweep: " << what << std::endl;
  if (mode_ == Mode::kBar) draw_bar();
}

void SweepProgress::draw_bar() {
  const int64_t total = to_run_ + done_before_, done = finished_ + done_before_;
  const double frac = total ? double(done) / double(total) : 1.0;
  const int fill = int(frac * kBarWidth);
  std::string bar(size_t(fill), '=');
  if (fill < kBarWidth) bar += '>';
  bar.resize(kBarWidth, ' ');
  char buf[256];
  std::snprintf(buf, sizeof buf, "\r\033[K[%s] %lld/%lld %3d%%%s  %s elapsed  %s", bar.c_str(),
                (long long)done, (long long)total, int(frac * 100 + 1e-9),
                failed_ ? (" " + std::to_string(failed_) + " failed").c_str() : "",
                clock_text(elapsed_s()).c_str(), eta_text().c_str());
  os_ << buf << (last_.empty() ? "" : "  last: " + last_) << std::flush;
  last_draw_ = std::chrono::steady_clock::now();
}

void SweepProgress::point_done(const PointRecord& r) {
  ++finished_;
  if (!r.ok()) ++failed_;
  std::string keys;
  for (const auto& k : r.swept) keys += (keys.empty() ? "" : " ") + k.key + "=" + k.value;
  char t[32];
  std::snprintf(t, sizeof t, "%.3g s", r.time_s);
  if (mode_ == Mode::kBar) {
    last_ = r.id + (r.ok() ? "" : " FAILED") + " " + t;
    draw_bar();
  } else if (mode_ == Mode::kLines) {
    const int64_t total = to_run_ + done_before_, done = finished_ + done_before_;
    os_ << "xbar sweep: [" << done << "/" << total << "] point " << r.id << " (" << keys << ") "
        << (r.ok() ? "ok" : "FAILED (exit " + std::to_string(r.exit_code) + "): " + r.error) << " in " << t
        << (r.rank ? " on rank " + std::to_string(r.rank) : "") << "; " << eta_text() << std::endl;
  }
}

void SweepProgress::tick() {
  if (mode_ != Mode::kBar) return;
  if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_draw_).count() >= kRedrawInterval_s)
    draw_bar();
}

void SweepProgress::finish() {
  if (mode_ == Mode::kBar) {
    draw_bar();
    os_ << "\n" << std::flush;
  }
}

}  // namespace xbar::engine::sweep
