#include "calib/linear_map.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <deque>

#include "calib/line_model.h"
#include "support/format.h"
#include "solvers/stopwatch.h"

namespace xbar::calib::internal {

namespace {

using Vec = Eigen::VectorXd;
using solvers::internal::seconds_since;

// Auto scales aim at g_max (1 - kHeadroom): the model's small error must not push the exact
// map over g_max (the value --scale auto has always used).
constexpr double kHeadroom = 1e-3;
// A scale pass is done when the predicted largest G' of every group is within this of its
// goal (log ratio): 2e-4 of the scale, far below anything an ADC resolves.
constexpr double kScaleLogTol = 2e-4;
// The scale in use is kept while the predicted largest G' is at most this far above the goal
// (log ratio): half the headroom, so the map still ends below g_max.
constexpr double kKeepBand = 0.5 * kHeadroom;
// Per-column scales never go below this share of the smallest starting scale (the model's
// uncompensated estimate, about 1.1-1.7x the final global scale on the benchmark arrays): a
// safety net. Simultaneous steps of many coupled groups can let the near columns take the row
// voltage from the far ones, whose scales then collapse (1024^2, 2.5 ohm: one went to 1.6e-9);
// such a map stalls and is reported as not converged instead.
constexpr double kMinColumnShare = 0.25;
// Per-column scales: the largest change of one group's log scale in one pass.
constexpr double kMaxLogStep = 0.5;
// Scale passes per iteration (each one model inverse); from the previous iteration's scales
// one or two suffice once the map settles.
constexpr int kScalePasses = 8;
// A lifted cell's target sits this fraction above the current it carries at g_min, so that it
// is reachable inside the window rather than exactly at its edge.
constexpr double kLiftMargin = 1e-2;
// Auto scales stop moving once the residual is below this (a fraction of max(target)):
// the map is then within 0.1 % of its final values, and so is the scale that fits it.
constexpr double kFreezeResidual = 1e-3;
// The model's own map before the first exact T: at most kModelSteps steps, until no cell moves
// by more than kModelStepTol of g_max. Measured (uniform [1, 100] uS, auto scale): 64^2 to 256^2,
// 1 and 2.5 ohm, 1-3 exact iterations fewer (256^2, 2.5 ohm: 18 -> 14 with Anderson).
constexpr int kModelSteps = 30;
constexpr double kModelStepTol = 1e-4;
// Anderson depth when options.anderson_depth is 0 (the default): measured on the same arrays,
// depth 4 saved 1-4 iterations and never cost one; deeper mixed no better.
constexpr int kAndersonDepth = 4;
// Stalled: no halving of the residual over the last kStall iterations.
constexpr int kStall = 6;

struct Groups {
  std::vector<int32_t> of;  // per column
  int32_t count = 0;
};

Groups groups_from(const std::vector<int32_t>& ids, int64_t n, bool one_per_column) {
  Groups g;
  g.of.assign(size_t(n), 0);
  if (!ids.empty()) {
    g.of = ids;
  } else if (one_per_column) {
    for (int64_t j = 0; j < n; ++j) g.of[size_t(j)] = int32_t(j);
  }
  for (int32_t v : g.of) g.count = std::max(g.count, v + 1);
  return g;
}

}  // namespace

Compensation compensate_linear(const netlists::CrossbarSpec& spec, const RowMatrixXd& g,
                               const CompensationOptions& o, const solvers::SolverOptions& solver,
                               std::chrono::steady_clock::time_point t0) {
  const int64_t m = g.rows(), n = g.cols(), mn = m * n;
  const double lo = o.range.g_min_s, hi = o.range.g_max_s;
  const bool autoscale = o.scale_auto;
  const Groups sg = groups_from(o.scale_groups, n, autoscale && o.scale_per_column);
  const bool lifting = !o.lift_groups.empty();
  const Groups lg = groups_from(o.lift_groups, n, false);
  const LineModel model(spec);
  EffectiveEvaluator evaluate(spec, solver, o.effective);  // one analysis for every T of the map

  std::vector<double> s(size_t(sg.count), autoscale ? 1.0 : o.scale);
  RowMatrixXd f = RowMatrixXd::Zero(m, lifting ? lg.count : 0);  // floors, siemens
  RowMatrixXd target(m, n);
  auto make_target = [&] {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        target(i, j) = s[size_t(sg.of[size_t(j)])] * (g(i, j) + (lifting ? f(i, lg.of[size_t(j)]) : 0.0));
  };
  // Pins on the exact T: a cell at a bound that still misses its target in that direction.
  std::vector<uint8_t> pin(static_cast<size_t>(mn));
  auto make_pins = [&](const RowMatrixXd& x, const RowMatrixXd& t) {
    for (int64_t k = 0; k < mn; ++k) {
      const double xk = x.data()[k], tk = t.data()[k], gk = target.data()[k];
      pin[size_t(k)] = xk >= hi && tk < gk   ? uint8_t(CellStatus::kNeedsAboveMax)
                       : xk <= lo && tk > gk ? uint8_t(CellStatus::kNeedsBelowMin)
                                             : uint8_t(CellStatus::kReachable);
    }
  };
  // The model at the current iterate x: its column factors, computed once per iterate and
  // shared by the forward evaluation and every inverse of the scale passes (fx = factors(x)).
  LineModel::ColumnFactors fx;
  // The model-corrected next iterate, before the window clip. A pinned cell enters the row
  // ladders with the current it actually carries (its model current), not the one it would
  // want, or its row neighbours are solved against a current that never flows.
  auto step = [&](const RowMatrixXd& lx, const RowMatrixXd& t) {
    RowMatrixXd want = lx + target - t;
    for (int64_t k = 0; k < mn; ++k)
      if (pin[size_t(k)]) want.data()[k] = lx.data()[k];
    return model.inverse(want, fx);
  };

  // Start: the model's map of the targets, at the scales where the model's uncompensated
  // attenuation a = L(G) / G would just fit g_max (auto; below the root).
  if (autoscale) {
    const RowMatrixXd lg0 = model.forward(g);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        if (g(i, j) > 0 && lg0(i, j) > 0) {
          double& sj = s[size_t(sg.of[size_t(j)])];
          sj = std::min(sj, hi * lg0(i, j) / (g(i, j) * g(i, j)));
        }
  }
  const double s_floor = kMinColumnShare * *std::min_element(s.begin(), s.end());
  make_target();
  RowMatrixXd x = model.inverse(target, target);
  for (int64_t k = 0; k < mn; ++k) {
    double& v = x.data()[k];
    v = !(v <= hi) ? hi : v < lo ? lo : v;
  }

  // Scale passes: per group, the s at which the model-corrected next iterate's largest cell
  // just reaches the goal, h(s) = log(max G'_next / goal) = 0. h increases with s (more
  // current, more IR drop) but jumps where cells pin, so each group keeps a bracket in log s
  // and takes false-position steps (Illinois) inside it, extrapolating until it has one; every
  // pass is one model inverse for all groups together (they interact only through the rows).
  // A group ends on its feasible side (h <= 0) unless nothing feasible was seen.
  const double goal = hi * (1 - kHeadroom);
  // movable: the groups whose scale may change (empty: all of them).
  auto choose_scales = [&](const RowMatrixXd& x, const RowMatrixXd& lx, const RowMatrixXd& t,
                           const std::vector<uint8_t>& movable) {
    const size_t ng = s.size();
    std::vector<double> la(ng, NAN), ha(ng, NAN), lb(ng, NAN), hb(ng, NAN), mx(ng), lp(ng, NAN), hp(ng, NAN);
    std::vector<int> side(ng, 0);  // Illinois: the end kept twice in a row
    std::vector<uint8_t> done(ng, 0);
    if (!movable.empty())
      for (size_t q = 0; q < ng; ++q) done[q] = !movable[q];
    for (int pass = 0; pass < kScalePasses; ++pass) {
      make_target();
      make_pins(x, t);
      const RowMatrixXd next = step(lx, t);
      std::fill(mx.begin(), mx.end(), 0.0);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const double v = next(i, j);
          double& mg = mx[size_t(sg.of[size_t(j)])];
          mg = std::isfinite(v) ? std::max(mg, v) : INFINITY;
        }
      bool all_done = true;
      for (size_t q = 0; q < ng; ++q) {
        if (done[q]) continue;
        if (!(mx[q] > 0)) {  // a group of zero targets: any scale fits
          done[q] = 1;
          continue;
        }
        const double h = std::log(mx[q] / goal), ls = std::log(s[q]);
        // The scale in use is kept while it stays inside the band: a scale that moved at every
        // iteration would move the target with it and hold the residual at that size.
        if (pass == 0 && h >= -kScaleLogTol && h <= kKeepBand) {
          done[q] = 1;
          continue;
        }
        if (h <= 0) {
          la[q] = ls, ha[q] = h;
          if (s[q] >= 1 || h >= -kScaleLogTol) {
            done[q] = 1;
            continue;
          }
          side[q] = side[q] == 1 ? 2 : 1;
        } else {
          lb[q] = ls, hb[q] = h;
          side[q] = side[q] == -1 ? -2 : -1;
        }
        all_done = false;
        double next_ls;
        if (ng > 1) {
          // Many groups: they share the rows, so one group's step moves the others' maxima
          // (a far column needs less when the near ones carry less). Damped simultaneous steps
          // on each group's own slope p (log G'_max vs log s): decreases in full, increases by
          // half, at most kMaxLogStep; the outer iterations finish what a pass leaves.
          double p_q = 1.0;
          if (std::isfinite(lp[q]) && lp[q] != ls && std::isfinite(hp[q]) && std::isfinite(h))
            p_q = std::clamp((h - hp[q]) / (ls - lp[q]), 1.0, 4.0);
          lp[q] = ls;
          hp[q] = h;
          double step = std::isfinite(h) ? -h / p_q : -std::log(2.0);
          if (step > 0) step *= 0.5;
          next_ls = std::clamp(ls + std::clamp(step, -kMaxLogStep, kMaxLogStep), std::log(s_floor), 0.0);
        } else if (std::isfinite(la[q]) && std::isfinite(lb[q])) {
          // False position; Illinois halves the value of an end kept twice, so the bracket
          // shrinks from both sides. Kept 5 % away from either end.
          double fa = ha[q], fb = std::isfinite(hb[q]) ? hb[q] : 1.0;
          if (side[q] == 2) fb *= 0.5;
          if (side[q] == -2) fa *= 0.5;
          next_ls = la[q] - fa * (lb[q] - la[q]) / (fb - fa);
          const double w = lb[q] - la[q];
          next_ls = std::clamp(next_ls, la[q] + 0.05 * w, lb[q] - 0.05 * w);
          if (w <= kScaleLogTol) {  // bracket closed: its feasible end
            s[q] = std::exp(la[q]);
            done[q] = 1;
            continue;
          }
        } else if (std::isfinite(la[q])) {
          next_ls = std::min(0.0, la[q] - 1.5 * ha[q]);  // everything fits: grow s, overshooting
        } else {
          next_ls = std::isfinite(hb[q]) ? lb[q] - 1.5 * hb[q] : lb[q] - std::log(2.0);  // shrink
        }
        s[q] = std::exp(next_ls);
      }
      if (all_done) break;
    }
    // One group still open ends on its feasible side when it saw one.
    if (ng == 1 && !done[0] && std::isfinite(la[0])) s[0] = std::exp(la[0]);
    make_target();
  };

  // The model's own map first (T replaced by L, no factorization): the exact iterations then
  // start on the model's scales and pins and have only the model's error left to correct.
  {
    for (int k = 0; k < kModelSteps; ++k) {
      fx = model.factors(x);
      const RowMatrixXd lx = model.forward(x, fx);
      if (autoscale) choose_scales(x, lx, lx, {});
      make_pins(x, lx);
      const RowMatrixXd next = step(lx, lx);
      double change = 0;
      for (int64_t q = 0; q < mn; ++q) {
        const double v = std::clamp(std::isfinite(next.data()[q]) ? next.data()[q] : hi, lo, hi);
        change = std::max(change, std::abs(v - x.data()[q]));
        x.data()[q] = v;
      }
      if (change <= kModelStepTol * hi) break;
    }
  }

  Compensation c;
  const int depth = o.anderson_depth > 0 ? o.anderson_depth : kAndersonDepth;
  Vec xv(mn), x_prev, f_prev;
  std::deque<Vec> dx, dfv;
  double prev_res = INFINITY;
  std::vector<double> s_last = s;
  bool frozen = false;
  for (int it = 0;; ++it) {
    const auto ti = std::chrono::steady_clock::now();
    Effective e = evaluate(x);
    const RowMatrixXd& t = e.t;
    fx = model.factors(x);
    const RowMatrixXd lx = model.forward(x, fx);
    make_target();
    if (lifting) {
      // A cell held at g_min that still over-delivers: its row's floor of the group rises to
      // the current it carries (targets are s (G + f), so f in siemens before scaling).
      bool raised = false;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          if (x(i, j) <= lo && t(i, j) > target(i, j)) {
            const double sj = s[size_t(sg.of[size_t(j)])];
            double& fi = f(i, lg.of[size_t(j)]);
            const double need = t(i, j) * (1 + kLiftMargin) / sj - g(i, j);
            if (need > fi) fi = need, raised = true;
          }
      if (raised) make_target();
    }
    // Per-column scales move with the map until it is close (kFreezeResidual), then stay:
    // hundreds of coupled groups each stepping inside their band keep moving the target, which
    // holds the residual at the size of the moves and defeats the acceleration. A frozen scale
    // is searched again only if a cell then needs more than g_max. (One global scale already
    // stays put inside its band; freezing it measured no better: 256^2, 2.5 ohm, 19 vs 14.)
    if (autoscale) {
      if (!frozen) {
        choose_scales(x, lx, t, {});
      } else {
        // Frozen: only a group with a cell that needs more than g_max may move (down). Searching
        // every group again let the ones below their band grow too, which moved most targets,
        // reset the acceleration and undid the last iterations: per-column maps that had
        // reached 1e-4 jumped back to 5e-4..1e-3 and stalled (64^2 at 20 ohm, 96^2 and 128^2
        // at 10 ohm, 256^2 at 2.5 ohm) and fell back to one global scale.
        make_pins(x, t);
        std::vector<uint8_t> over(s.size(), 0);
        bool any = false;
        for (int64_t k = 0; k < mn; ++k)
          if (pin[size_t(k)] == uint8_t(CellStatus::kNeedsAboveMax)) {
            over[size_t(sg.of[size_t(k % n)])] = 1;
            any = true;
          }
        if (any) choose_scales(x, lx, t, over);
      }
    }
    make_pins(x, t);
    const double scale_max = target.size() ? target.cwiseAbs().maxCoeff() : 0.0;
    double res = 0;
    int64_t above = 0, below = 0;
    for (int64_t k = 0; k < mn; ++k) {
      if (pin[size_t(k)] == uint8_t(CellStatus::kNeedsAboveMax)) ++above;
      else if (pin[size_t(k)] == uint8_t(CellStatus::kNeedsBelowMin)) ++below;
      else res = std::max(res, std::abs(t.data()[k] - target.data()[k]));
    }
    res = scale_max > 0 ? res / scale_max : 0.0;
    c.residual_history.push_back(res);
    if (res <= kFreezeResidual && s.size() > 1) frozen = true;
    c.iterations = it + 1;
    c.linear_solves = evaluate.linear_solves();
    c.g_s = x;
    c.t = t;
    c.target_s = target;
    c.status = Eigen::Map<const Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(pin.data(), m, n);
    c.needs_above_max = above;
    c.needs_below_min = below;
    c.residual_rel = res;
    const double s_min = *std::min_element(s.begin(), s.end());
    if (autoscale) c.scale_trials.push_back(s_min);
    if (o.progress)
      o.progress("compensation iteration " + std::to_string(it) + ": max |T - target| = " + format_3g(res) +
                 " of max(target), " + std::to_string(above + below) + " unreachable cells" +
                 (autoscale ? ", scale " + format_3g(s_min) +
                                  (s.size() > 1 ? ".." + format_3g(*std::max_element(s.begin(), s.end())) : "")
                            : std::string()) +
                 " (T " + format_3g(e.seconds) + " s, iteration " + format_3g(seconds_since(ti)) + " s)");
    if (res <= o.tol) {
      c.converged = true;
      break;
    }
    if (it + 1 >= o.max_iterations) break;
    if (it >= kStall) {
      const auto& h = c.residual_history;
      const double before = *std::min_element(h.begin(), h.end() - kStall);
      const double recent = *std::min_element(h.end() - kStall, h.end());
      if (recent > 0.5 * before) break;
    }
    const RowMatrixXd next = step(lx, t);
    Vec px(mn);
    for (int64_t k = 0; k < mn; ++k) {
      const uint8_t st = pin[size_t(k)];
      const double v = next.data()[k];
      px[k] = st == uint8_t(CellStatus::kNeedsAboveMax)   ? hi
              : st == uint8_t(CellStatus::kNeedsBelowMin) ? lo
              : !(v <= hi)                                ? hi
              : v < lo                                    ? lo
                                                          : v;
    }
    // Anderson acceleration (Walker & Ni 2011) on f = P(x) - x; a residual that grew, or
    // targets that moved (scales, floors), reset the history.
    xv = Eigen::Map<const Vec>(x.data(), mn);
    const Vec fk = px - xv;
    bool moved = false;
    for (size_t q = 0; q < s.size(); ++q) moved |= std::abs(s[q] - s_last[q]) > kScaleLogTol * s[q];
    s_last = s;
    if (res > prev_res || moved) {
      dx.clear();
      dfv.clear();
    } else if (x_prev.size()) {
      dx.push_back(xv - x_prev);
      dfv.push_back(fk - f_prev);
      if (int(dx.size()) > depth) {
        dx.pop_front();
        dfv.pop_front();
      }
    }
    x_prev = xv;
    f_prev = fk;
    prev_res = res;
    Vec nx = xv + fk;
    if (!dx.empty() && depth > 0) {
      Eigen::MatrixXd dfm(mn, Eigen::Index(dfv.size())), dxm(mn, Eigen::Index(dx.size()));
      for (size_t q = 0; q < dfv.size(); ++q) {
        dfm.col(Eigen::Index(q)) = dfv[q];
        dxm.col(Eigen::Index(q)) = dx[q];
      }
      const Vec gamma = dfm.colPivHouseholderQr().solve(fk);
      if (gamma.allFinite()) nx = xv + fk - (dxm + dfm) * gamma;
    }
    for (int64_t k = 0; k < mn; ++k) x.data()[k] = std::clamp(nx[k], lo, hi);
  }

  c.column_scales.resize(size_t(n));
  for (int64_t j = 0; j < n; ++j) c.column_scales[size_t(j)] = s[size_t(sg.of[size_t(j)])];
  c.scale = *std::min_element(s.begin(), s.end());
  if (lifting) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.lifted_cells += f(i, lg.of[size_t(j)]) > 0;
    c.max_lift_s = f.size() ? f.maxCoeff() : 0.0;
  }
  c.seconds = seconds_since(t0);
  const double s_max = *std::max_element(s.begin(), s.end());
  c.message = std::string(c.converged ? "converged" : "did NOT converge") + " in " + std::to_string(c.iterations) +
              " iterations to max |T - target| = " + format_3g(c.residual_rel) + " of max(target) at scale " +
              format_3g(c.scale) + (s.size() > 1 ? " .. " + format_3g(s_max) + " (per column group)" : "") + "; " +
              std::to_string(c.needs_above_max) + " cells need more than g-max, " +
              std::to_string(c.needs_below_min) + " need less than g-min" +
              (lifting ? "; " + std::to_string(c.lifted_cells) + " cells lifted by a floor (largest " +
                             format_3g(c.max_lift_s) + " S)"
                       : "");
  return c;
}

}  // namespace xbar::calib::internal
