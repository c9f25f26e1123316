#include "calib/fixed_point.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <deque>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

namespace {

using Vec = Eigen::VectorXd;

}  // namespace

void require_in_window(const RowMatrixXd& g_target_s, const devices::ConductanceRange& range) {
  const double lo = range.g_min_s, hi = range.g_max_s;
  for (Eigen::Index k = 0; k < g_target_s.size(); ++k) {
    const double g = g_target_s.data()[k];
    if (!(g >= lo && g <= hi))
      throw InputError("target conductance [" + std::to_string(k / g_target_s.cols()) + ", " +
                       std::to_string(k % g_target_s.cols()) + "] = " + format_number(g) +
                       " S lies outside the device window [g-min, g-max] = [" + format_number(lo) +
                       ", " + format_number(hi) + "] S");
  }
}

FixedScaleRun run_fixed_point(const FixedPointProblem& p, const RowMatrixXd& target0, RowMatrixXd g0,
                              const CompensationOptions& o, const Retarget& retarget) {
  const Eigen::Index m = target0.rows(), n = target0.cols(), mn = m * n;
  const double lo = o.range.g_min_s, hi = o.range.g_max_s;
  RowMatrixXd target = target0;
  FixedScaleRun r;
  r.status.setZero(m, n);
  auto clip = [&](Vec& x) { x = x.cwiseMax(lo).cwiseMin(hi); };

  Vec x = Eigen::Map<const Vec>(g0.data(), mn);
  clip(x);
  // Anderson history: differences of iterates and of residuals f = P(x) - x.
  std::deque<Vec> dx, df;
  Vec x_prev, f_prev;
  double prev_res = INFINITY;
  const int64_t solves0 = p.solves();
  for (int it = 0;; ++it) {
    RowMatrixXd g = Eigen::Map<const RowMatrixXd>(x.data(), m, n);
    double measure_s = 0;
    RowMatrixXd measured = p.measure(g, measure_s);
    r.solves = p.solves() - solves0;
    if (retarget) target = retarget(g, measured);
    const double scale = target.size() ? target.cwiseAbs().maxCoeff() : 0.0;
    const Eigen::Map<const Vec> tgt(target.data(), mn);
    const Eigen::Map<const Vec> t(measured.data(), mn);
    std::vector<uint8_t> pin(static_cast<size_t>(mn), 0);
    for (Eigen::Index k = 0; k < mn; ++k) {
      if (x[k] >= hi && t[k] < tgt[k]) pin[size_t(k)] = uint8_t(CellStatus::kNeedsAboveMax);
      else if (x[k] <= lo && t[k] > tgt[k]) pin[size_t(k)] = uint8_t(CellStatus::kNeedsBelowMin);
    }
    const RowMatrixXd next_g = p.propose(g, measured, pin);
    Vec px(mn);
    double res = 0;
    int64_t above = 0, below = 0;
    for (Eigen::Index k = 0; k < mn; ++k) {
      const uint8_t st = pin[size_t(k)];
      r.status(k / n, k % n) = st;
      if (st == uint8_t(CellStatus::kNeedsAboveMax)) ++above, px[k] = hi;
      else if (st == uint8_t(CellStatus::kNeedsBelowMin)) ++below, px[k] = lo;
      else {
        res = std::max(res, std::abs(t[k] - tgt[k]));
        const double next = next_g.data()[k];
        px[k] = !(next <= hi) ? hi : next < lo ? lo : next;
      }
    }
    res = scale > 0 ? res / scale : 0.0;
    r.history.push_back(res);
    r.iterations = it + 1;
    // With the window open above (scale search), a cell asking for infinite conductance means
    // its line runs out of voltage before it carries its current: no map at this scale.
    if (!std::isfinite(hi) && !px.allFinite()) {
      r.converged = false;
      return r;
    }
    r.above = above;
    r.below = below;
    r.residual_rel = res;
    r.g = std::move(g);
    r.t = std::move(measured);
    if (o.progress)
      o.progress("compensation iteration " + std::to_string(it) + ": max |" + p.measured_name +
                 " - target| = " + format_3g(res) + " of max(target), " + std::to_string(above + below) +
                 " unreachable cells (" + format_3g(measure_s) + " s)");
    if (res <= o.tol) {
      r.converged = true;
      return r;
    }
    if (it + 1 >= o.max_iterations) return r;
    // Stalled: no halving of the residual over the last kStall iterations (cells moving in and
    // out of the window can keep it there); stop and report what was reached.
    constexpr int kStall = 6;
    if (it >= kStall) {
      const double before = *std::min_element(r.history.begin(), r.history.end() - kStall);
      const double recent = *std::min_element(r.history.end() - kStall, r.history.end());
      if (recent > 0.5 * before) return r;
    }
    const Vec f = px - x;
    // Anderson acceleration; a residual that grew resets the history (safeguard).
    if (res > prev_res) {
      dx.clear();
      df.clear();
    } else if (x_prev.size()) {
      dx.push_back(x - x_prev);
      df.push_back(f - f_prev);
      if (int(dx.size()) > o.anderson_depth) {
        dx.pop_front();
        df.pop_front();
      }
    }
    x_prev = x;
    f_prev = f;
    prev_res = res;
    Vec next = x + f;
    if (!dx.empty() && o.anderson_depth > 0) {
      Eigen::MatrixXd dfm(mn, Eigen::Index(df.size())), dxm(mn, Eigen::Index(dx.size()));
      for (size_t c = 0; c < df.size(); ++c) {
        dfm.col(Eigen::Index(c)) = df[c];
        dxm.col(Eigen::Index(c)) = dx[c];
      }
      const Vec gamma = dfm.colPivHouseholderQr().solve(f);
      if (gamma.allFinite()) next = x + f - (dxm + dfm) * gamma;
    }
    clip(next);
    x = next;
  }
}

Compensation solve_compensation(const FixedPointProblem& p,
                                const std::function<RowMatrixXd(double)>& target_at,
                                const std::function<RowMatrixXd(double)>& start_at, double s0,
                                const CompensationOptions& o,
                                std::chrono::steady_clock::time_point t0) {
  Compensation c;
  const double hi = o.range.g_max_s;
  auto finish = [&](FixedScaleRun&& r, double s) {
    c.iterations += r.iterations;
    c.linear_solves += r.solves;
    c.g_s = std::move(r.g);
    c.t = std::move(r.t);
    c.status = std::move(r.status);
    c.needs_above_max = r.above;
    c.needs_below_min = r.below;
    c.scale = s;
    c.converged = r.converged;
    c.residual_rel = r.residual_rel;
    c.residual_history = std::move(r.history);
  };
  constexpr double kScaleRelTol = 5e-3;
  if (!o.scale_auto) {
    c.scale_trials = {o.scale};
    finish(run_fixed_point(p, target_at(o.scale), start_at(o.scale), o), o.scale);
  }
  if (o.scale_auto && p.predict) {
    // The scale as one more unknown of the same iteration: at every step, after the exact
    // measurement, s is set where the model-corrected next iterate just reaches g_max (times
    // 1 - kHeadroom, so the model's small error does not push cells over it), h(s) =
    // log(max P_s(G') / g_max), increasing in s, bisected in log s on the cheap model. At the
    // fixed point the prediction is exact, so s converges with G'. One run, no nested trials.
    constexpr double kHeadroom = 1e-3;
    const double h_goal = std::log1p(-kHeadroom);
    double s = std::min(1.0, s0);
    Retarget retarget = [&](const RowMatrixXd& g, const RowMatrixXd& t) {
      auto h = [&](double sp) {
        const RowMatrixXd next = p.predict(sp, g, t);
        const double mx = next.maxCoeff();
        return next.allFinite() && std::isfinite(mx) ? std::log(mx / hi) : INFINITY;
      };
      if (h(1.0) <= h_goal) {
        s = 1.0;
      } else {
        double la = std::log(1e-6), lb = 0;
        if (h(std::exp(la)) > h_goal) la = lb = std::log(s);  // nothing fits: keep s
        while (lb - la > 1e-6) {
          const double mid = 0.5 * (la + lb);
          (h(std::exp(mid)) <= h_goal ? la : lb) = mid;
        }
        s = std::exp(la);
      }
      c.scale_trials.push_back(s);
      return target_at(s);
    };
    FixedScaleRun r = run_fixed_point(p, target_at(s), start_at(s), o, retarget);
    if (r.above == 0) {
      // Converged, or stopped (iteration cap, stall) with every cell under g_max: either way
      // the answer, reported as it stands; re-searching the scale would not converge better.
      if (o.progress)
        o.progress("scale auto: s = " + format_3g(s) + (r.converged ? " found with the map in " : " reached after ") +
                   std::to_string(r.iterations) + " iterations");
      finish(std::move(r), s);
    } else {
      if (o.progress)
        o.progress("scale auto: the joint iteration did not settle (" + std::string(r.converged ? "converged" : "not converged") +
                   ", " + std::to_string(r.above) + " cells above g-max, max G'/g_max = " + format_3g(r.g.maxCoeff() / hi) +
                   " at s = " + format_3g(s) + "); bracketing the scale with exact trials");
      c.iterations += r.iterations;
      c.linear_solves += r.solves;
      c.scale_trials.clear();
    }
  }
  if (o.scale_auto && c.g_s.size() == 0) {
    // Largest s <= 1 with every cell under g_max: the root of h(s) = log(max G'(s) / g_max),
    // searched with the window's upper bound lifted. max G'(s) / s grows with s (more current,
    // more IR drop), so h is increasing, and near the root from below the map converges fast;
    // from above (heavily compensated arrays) it may not exist at all, because a wire-limited
    // cell's current saturates however large its conductance. So the search starts below the
    // root, at s0 (the caller's estimate from the uncompensated attenuation), and brackets the
    // root with secant steps in log s. Each trial solves only to kTrialTol (its job is the
    // scale, not the map), warm-started from the nearest feasible trial's map, rescaled.
    constexpr double kTrialTol = 1e-4;
    constexpr int kTrialIterations = 40;
    CompensationOptions open = o;
    open.range.g_max_s = p.trial_g_max_ratio * hi;
    open.tol = std::max(o.tol, kTrialTol);
    open.max_iterations = std::min(o.max_iterations, kTrialIterations);
    double s = std::min(1.0, s0);
    double s_lo = 0, h_lo = 0, s_hi = INFINITY, h_hi = INFINITY;
    RowMatrixXd warm = start_at(s);  // the best feasible trial's map, for scale warm_s
    double warm_s = s;
    RowMatrixXd start = warm;        // the next trial's first iterate
    auto log_max_ratio = [&](const RowMatrixXd& g) {
      const double mx = g.maxCoeff();
      return std::isfinite(mx) && g.allFinite() ? std::log(mx / hi) : INFINITY;
    };
    std::string trial_error;  // the last trial's numerical failure, for the message if none fits
    for (int trial = 0; trial < 12; ++trial) {
      FixedScaleRun r;
      bool unsolvable = false;
      try {
        r = run_fixed_point(p, target_at(s), start, open);
      } catch (const NumericalError& e) {
        // A trial whose circuit cannot be solved (a nonlinear cell far outside the window)
        // answers "not feasible at this scale" like one that does not converge; the map itself
        // is solved inside the real window below, where such an error stops the run.
        r.converged = false;
        unsolvable = true;
        trial_error = e.what();
      }
      c.iterations += r.iterations;
      c.linear_solves += r.solves;
      c.scale_trials.push_back(s);
      const double h = r.converged ? std::log(r.g.maxCoeff() / hi) : INFINITY;
      if (o.progress)
        o.progress("scale auto: trial s = " + format_3g(s) + ": " +
                   (r.converged  ? "max G' / g_max = " + format_3g(std::exp(h))
                    : unsolvable ? "its circuit could not be solved (" + trial_error + ")"
                                 : std::string("no convergence")) +
                   " after " + std::to_string(r.iterations) + " iterations");
      if (h <= 0) {
        s_lo = s, h_lo = h;
        warm = r.g;
        warm_s = s;
        if (s == 1.0 || h >= -kScaleRelTol) break;
      } else {
        s_hi = s, h_hi = h;
      }
      if (s_hi / std::max(s_lo, 1e-300) - 1 <= kScaleRelTol) break;
      double next = NAN;
      if (p.predict && r.converged) {
        // The scale where the model-corrected next iterate just reaches g_max: h_pred(s) =
        // log(max P_s(G') / g_max) is increasing in s; bisect it in log s inside the bracket.
        auto h_pred = [&](double sp) { return log_max_ratio(p.predict(sp, r.g, r.t)); };
        const double a_end = s_lo > 0 ? s_lo : 1e-6 * s, b_end = std::min(1.0, s_hi);
        if (h_pred(b_end) <= 0) {
          next = b_end;
        } else if (h_pred(a_end) < 0) {
          double la = std::log(a_end), lb = std::log(b_end);
          while (lb - la > 0.1 * kScaleRelTol) {
            const double mid = 0.5 * (la + lb);
            (h_pred(std::exp(mid)) <= 0 ? la : lb) = mid;
          }
          next = std::exp(la);
        }
        if (std::isfinite(next) && next == s_hi) next = NAN;  // known to fail: fall back below
        if (std::isfinite(next)) start = p.predict(next, r.g, r.t).cwiseMin(std::min(1e3, p.trial_g_max_ratio) * hi);
      }
      if (!std::isfinite(next)) {
        // Secant through the bracket ends in log s when both are finite, else the step that
        // assumes max G' / s constant; kept strictly inside the bracket.
        if (s_lo > 0 && std::isfinite(h_hi))
          next = std::exp(std::log(s_lo) - h_lo * (std::log(s_hi) - std::log(s_lo)) / (h_hi - h_lo));
        else if (s_lo > 0)
          next = std::min(1.0, s_lo * std::exp(-h_lo));
        else
          next = s * std::exp(-std::min(h, 2.0));  // unconverged or far above: at most e^2 down
        const double lo_end = s_lo > 0 ? s_lo : 0, hi_end = std::min(1.0, s_hi);
        if (!(next > lo_end && next < hi_end) || (s_lo > 0 && std::isinf(s_hi) && next == s_lo))
          next = s_lo > 0 && std::isfinite(s_hi) ? std::sqrt(s_lo * s_hi) : next;
        if (next >= hi_end) next = s_lo > 0 ? std::sqrt(s_lo * hi_end) : 0.5 * hi_end;
        start = (s_lo > 0 ? warm * (next / warm_s) : start_at(next));
      }
      s = next;
    }
    if (s_lo == 0)
      throw NumericalError("scale auto: no target scale in " + std::to_string(c.scale_trials.size()) +
                           " trials (down to " + format_3g(c.scale_trials.back()) + ") fits the compensation "
                           "map under g-max = " + format_number(hi) + " S" +
                           (trial_error.empty() ? std::string() : "; the last failed trial: " + trial_error));
    // The map inside the real window, a hair below the root so that the tighter final solve
    // never leaves a cell just above g_max; cells needing less than g_min are reported.
    s = s_lo < 1.0 && h_lo > -2 * kScaleRelTol ? s_lo * (1 - 2 * kScaleRelTol) : s_lo;
    finish(run_fixed_point(p, target_at(s), warm * (s / warm_s), o), s);
  }
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.message = std::string(c.converged ? "converged" : "did NOT converge") + " in " +
              std::to_string(c.iterations) + " iterations to max |" + p.measured_name +
              " - target| = " + format_3g(c.residual_rel) + " of max(target) at scale " + format_3g(c.scale) +
              "; " + std::to_string(c.needs_above_max) + " cells need more than g-max, " +
              std::to_string(c.needs_below_min) + " need less than g-min";
  return c;
}

}  // namespace xbar::calib
