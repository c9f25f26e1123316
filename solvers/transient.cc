// Longer than the project's ~600-line guide, deliberately: one Integrator class holds the
// step-size ladder, its cached factorizations, the TR-BDF2 / backward-Euler stages and the
// error control, whose invariants (which factorization belongs to which step size) would leak
// across a file boundary. The settling and energy figures are computed here too, from the
// integrator's own quadrature.
#include "solvers/transient.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/line_system.h"
#include "solvers/newton.h"
#include "solvers/shifted_factorizations.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

namespace {

// TR-BDF2 with gamma = 2 - sqrt(2) (Bank et al. 1985; Hosea & Shampine 1996).
constexpr double kGamma = 0.58578643762690495;  // 2 - sqrt(2)
constexpr double kD = kGamma / 2;               // both stages solve with A + D / (kD h)
// BDF2 stage through (t, t + gamma h, t + h): x_{n+1} - kA x_gamma + kB x_n = kD h x'_{n+1}.
constexpr double kA = 1 / (kGamma * (2 - kGamma));
constexpr double kB = (1 - kGamma) * (1 - kGamma) / (kGamma * (2 - kGamma));
// Local error x(t + h) - x_{n+1} = kErr h^3 x''' (Bank et al., eq. for the TR-BDF2 error).
constexpr double kErr = (-3 * kGamma * kGamma + 4 * kGamma - 2) / (12 * (2 - kGamma));
// Quadrature the method implies for the currents it balances: weight kEnd h at t and at
// t + gamma h, kD h at t + h (kEnd = kA gamma / 2 = 1 / (2 (2 - gamma)); 2 kEnd + kD = 1).
constexpr double kEnd = 1 / (2 * (2 - kGamma));

// Adaptive ladder: a step is L 2^-k of the interval length L, 0 <= k <= kMaxRung, and times are
// counted in units of L 2^-kMaxRung (exact integers). 2^-60 of a 10 ns run is ~1e-26 s, far
// below any physical time constant, so the ladder never runs out before the error control does.
constexpr int kMaxRung = 60;
// First step of an adaptive run: the step whose error, estimated from the derivatives at
// t = 0+, is this share of the tolerance, rounded down to the ladder (first_rung()): a rejected
// first guess costs a factorization of a size never used, and the guess from L / 4096 (the
// fallback, kFirstRung, when the derivatives say nothing) was rejected 3-4 times on 64^2-256^2
// arrays.
constexpr double kFirstStepShare = 0.5;
constexpr int kFirstRung = 12;
// Step-size controller: new h = h * clamp(kSafety * ratio^(-1/(p+1)), kMinFactor, kMaxFactor);
// growth is also held to two rungs (4x) per step. The usual values (Hairer & Wanner, II.4).
constexpr double kSafety = 0.9;
constexpr double kMinFactor = 0.1;
constexpr double kMaxFactor = 4.0;
// Adaptive runs end early once the outputs and node voltages are this fraction of lte_tol from
// DC (TransientRun::steady_from_s): the rest of the waveform is DC to ~1e-3 of the per-step
// error, and the energy of the remaining decay is added exactly (finish_steady()). Waiting for
// the last 1e-3 costs a few steps; stepping on to t_stop would cost a new factorization at
// every doubling of the step.
constexpr double kSteady = 1e-3;
// Nonlinear cells with nodes that jump at the step: the unestimated backward-Euler first step is
// 2^-6 of the first guess (its local error ~h^2: 4096 times below the guess's).
constexpr int kBeStartRungs = 6;

bool all_zero(const Eigen::VectorXd& v) { return v.size() == 0 || v.cwiseAbs().maxCoeff() == 0; }

double inf_norm(const Eigen::VectorXd& v) { return v.size() ? v.cwiseAbs().maxCoeff() : 0.0; }

// The rows of `m` listed in `rows`, as a new sparse matrix.
SparseMatrix select_rows(const SparseMatrix& m, const std::vector<int32_t>& rows) {
  SparseMatrix p(int64_t(rows.size()), m.rows());
  std::vector<Eigen::Triplet<double, int64_t>> t;
  for (size_t k = 0; k < rows.size(); ++k) t.emplace_back(int64_t(k), rows[k], 1.0);
  p.setFromTriplets(t.begin(), t.end());
  return p * m;
}

}  // namespace

std::string to_string(TransientMethod m) {
  return m == TransientMethod::kTrBdf2 ? "trbdf2" : "be";
}

TransientMethod parse_transient_method(const std::string& s) {
  if (s == "trbdf2") return TransientMethod::kTrBdf2;
  if (s == "be") return TransientMethod::kBackwardEuler;
  throw InputError("key integrator = '" + s + "': expected trbdf2 (TR-BDF2, second order) or be "
                   "(backward Euler, first order)");
}

void TransientOptions::validate() const {
  if (!std::isfinite(t_stop_s) || !(t_stop_s > 0))
    throw InputError("key t-stop = " + format_number(t_stop_s) + ": must be finite and > 0 s");
  if (!std::isfinite(time_step_s) || time_step_s < 0)
    throw InputError("key time-step = " + format_number(time_step_s) +
                     ": must be finite and >= 0 s (0 = adaptive steps)");
  if (time_step_s > t_stop_s)
    throw InputError("key time-step = " + format_number(time_step_s) + ": must not exceed t-stop = " +
                     format_number(t_stop_s) + " s");
  if (!std::isfinite(t_rise_s) || t_rise_s < 0 || t_rise_s >= t_stop_s)
    throw InputError("key t-rise = " + format_number(t_rise_s) + ": must be in [0, t-stop = " +
                     format_number(t_stop_s) + ") s (0 = ideal step)");
  if (!(lte_tol > 0 && lte_tol <= 0.1))
    throw InputError("key lte-tol = " + format_number(lte_tol) +
                     ": must be in (0, 0.1] (local error per step, fraction of full scale)");
  if (max_steps < 1)
    throw InputError("key max-steps = " + std::to_string(max_steps) + ": must be >= 1");
  if (max_cached_factorizations < 1)
    throw InputError("key max-cached-factorizations = " + std::to_string(max_cached_factorizations) +
                     ": must be >= 1");
  if (time_step_s > 0) {
    // Steps of the fixed grid (one more where t_rise cuts a step): refused before any work.
    const double steps = std::ceil(t_stop_s / time_step_s) + (t_rise_s > 0 ? 1 : 0);
    if (steps > double(max_steps))
      throw InputError("keys t-stop / time-step = " + format_number(t_stop_s) + " / " +
                       format_number(time_step_s) + " s need " + format_number(steps) +
                       " steps: more than max-steps = " + std::to_string(max_steps));
  }
}

namespace {

// One run: the state of the integration and its bookkeeping.
class Integrator {
 public:
  // t_start: when the run began (the assembly time is measured from it).
  Integrator(const netlists::Circuit& circuit, const TransientProblem& p, const TransientOptions& o,
             const LinearBackendOptions& linear, TransientRun& out,
             std::chrono::steady_clock::time_point t_start);
  void run();

 private:
  double ramp(double t) const {
    if (o_.t_rise_s == 0) return 1.0;  // the ideal step: every t >= 0 is t = 0+
    return std::min(t / o_.t_rise_s, 1.0);
  }
  Eigen::VectorXd s_at(double t) const { return p_.s_before + ramp(t) * ds_; }
  Eigen::VectorXd b_at(double t) const { return b_before_ + ramp(t) * db_; }
  // Nonlinear cells: the currents they send through each source (MnaSystem::nonlinear_residual
  // books them), S entries; empty for a linear circuit.
  Eigen::VectorXd nonlinear_source_currents(const Eigen::VectorXd& x, const Eigen::VectorXd& s) const {
    if (mna_.linear()) return {};
    Eigen::VectorXd cur = Eigen::VectorXd::Zero(mna_.num_sources());
    Eigen::VectorXd f = Eigen::VectorXd::Zero(mna_.size());
    mna_.nonlinear_residual(x, s, f, nullptr, &cur);
    return cur;
  }
  // Power delivered by each energy source at time t in state x (watts, per source).
  Eigen::VectorXd source_power(double t, const Eigen::VectorXd& x) const {
    const Eigen::VectorXd s = s_at(t);
    Eigen::VectorXd i = e_x_ * x + e_s_ * s;
    const Eigen::VectorXd nl = nonlinear_source_currents(x, s);
    for (size_t k = 0; k < p_.energy_sources.size(); ++k) {
      if (nl.size()) i(Eigen::Index(k)) += nl(p_.energy_sources[k]);
      i(Eigen::Index(k)) *= -s(p_.energy_sources[k]);
    }
    return i;
  }
  Eigen::VectorXd outputs(const Eigen::VectorXd& x, const Eigen::VectorXd& s) const {
    Eigen::VectorXd y = out_x_ * x + out_s_ * s;
    const Eigen::VectorXd nl = nonlinear_source_currents(x, s);
    if (nl.size()) y += p_.output_sources * nl;
    return y;
  }
  void record(double t, const Eigen::VectorXd& x) {
    times_.push_back(t);
    ys_.push_back(outputs(x, s_at(t)));
    report(t);
  }
  // A progress line when o_.progress is set and progress_interval_s has passed since the last.
  void report(double t) {
    if (!o_.progress) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_report_).count() < o_.progress_interval_s) return;
    last_report_ = now;
    o_.progress("t = " + format_3g(t) + " of " + format_3g(o_.t_stop_s) + " s, " + std::to_string(out_.steps) +
                " steps (" + std::to_string(out_.rejected_steps) + " rejected), last step " + format_3g(last_h_) + " s");
  }
  // b(t) - A x - cells(x): the current into each unknown's capacitor (0 where it has none,
  // once x is consistent).
  Eigen::VectorXd capacitor_currents(double t, const Eigen::VectorXd& x) const {
    Eigen::VectorXd f = mna_.matrix() * x - b_at(t);
    if (!mna_.linear()) mna_.nonlinear_residual(x, s_at(t), f, nullptr, nullptr);
    return -f;
  }
  // One implicit stage: (A + sigma D) x + cells(x) = b(t) + hist, from `guess` (Newton; the
  // linear solve ignores it). False when Newton did not converge.
  bool stage(double sigma, double t, const Eigen::VectorXd& hist, const Eigen::VectorXd& guess,
             Eigen::VectorXd& x);
  // The DC state under source values s (Newton for nonlinear cells).
  Eigen::VectorXd dc_state(const Eigen::VectorXd& b, const Eigen::VectorXd& s);
  void initial_state();
  // The local error estimate est (in x) against the tolerance: <= 1 passes. The outputs'
  // error against their full scale; where every output is zero at DC (nothing to hold them
  // to), the node voltages' against the largest node voltage.
  double error_ratio(const Eigen::VectorXd& est) const;
  // True once the outputs and every node voltage are within kSteady lte_tol of DC (after the
  // rise): the rest of the run is DC to that accuracy.
  bool steady() const;
  // Ends the run at t_end from a steady state: records the DC outputs at t_end and adds the
  // energy of the remaining decay, exactly (see the definition).
  void finish_steady(double t_end);
  // One step of size h from (t_, x_, xp_): x1, x1', the power integral over the step, and (when
  // `estimate`) the error ratio (<= 1: within tolerance). Does not change the state.
  struct Step {
    Eigen::VectorXd x, xp, energy;
    double ratio = 0;
    bool failed = false;  // a stage's Newton iteration did not converge
  };
  Step step(double h, bool estimate);
  void accept(Step& s, double h);
  void run_fixed(double t0, double t1);
  void run_adaptive(double t0, double t1, int& rung);
  int order() const { return o_.method == TransientMethod::kTrBdf2 ? 2 : 1; }
  // The rung of the first adaptive step over an interval of length len, from the error the
  // method would make at t = 0+ (see kFirstStepShare).
  int first_rung(double len) const;
  // The linear back end for options.backend (see TransientOptions); notes a fallback in note_.
  LinearBackendKind choose_kind();
  std::string note_;

  const netlists::Circuit& c_;
  const TransientProblem& p_;
  const TransientOptions& o_;
  TransientRun& out_;
  MnaSystem mna_;
  Eigen::VectorXd d_;  // capacitance per unknown
  std::vector<std::pair<int32_t, double>> fixed_caps_;  // (node, farads) on source-held nodes
  Eigen::VectorXd ds_, b_before_, db_;
  SparseMatrix out_x_, out_s_;  // outputs = out_x_ x + out_s_ s
  SparseMatrix e_x_, e_s_;  // currents of the energy sources
  std::unique_ptr<ShiftedFactorizations> f_;
  // Nonlinear cells: Newton on each stage, with its own back end (refactorized per iteration).
  std::unique_ptr<LinearBackend> newton_backend_;
  std::unique_ptr<NewtonSolver> newton_;
  // Nonlinear cells with an ideal step and unknowns without capacitance: the first step is
  // backward Euler, which needs no consistent start (its equations hold only capacitor
  // voltages from the state before), whatever the method.
  bool be_start_ = false;
  double y_scale_ = 0, v_scale_ = 0;
  Eigen::VectorXd x_dc_, p_dc_;  // the DC state under s_after, and each energy source's power
  double t_ = 0;
  Eigen::VectorXd x_, xp_;  // state and its derivative at t_
  std::vector<double> times_;
  std::vector<Eigen::VectorXd> ys_;
  Eigen::VectorXd energy_;
  int64_t attempts_ = 0;
  double last_h_ = 0;  // the last accepted step
  std::chrono::steady_clock::time_point last_report_ = std::chrono::steady_clock::now();
};

Integrator::Integrator(const netlists::Circuit& circuit, const TransientProblem& p,
                       const TransientOptions& o, const LinearBackendOptions& linear, TransientRun& out,
                       std::chrono::steady_clock::time_point t_start)
    : c_(circuit), p_(p), o_(o), out_(out), mna_((o.validate(), circuit)) {
  out_.assemble_s = seconds_since(t_start);
  const int64_t n = mna_.size();
  const int64_t ns = mna_.num_sources();
  if (p.node_capacitance_f.size() != circuit.num_nodes())
    throw InputError("transient: " + std::to_string(p.node_capacitance_f.size()) +
                     " node capacitances for " + std::to_string(circuit.num_nodes()) + " nodes");
  if (p.s_before.size() != ns || p.s_after.size() != ns)
    throw InputError("transient: source values for " + std::to_string(p.s_before.size()) + " / " +
                     std::to_string(p.s_after.size()) + " sources, the circuit has " + std::to_string(ns));
  if (p.output_sources.cols() != ns)
    throw InputError("transient: the output map has " + std::to_string(p.output_sources.cols()) +
                     " columns for " + std::to_string(ns) + " sources");
  for (int32_t k : p.energy_sources)
    if (k < 0 || k >= ns) throw InputError("transient: energy source " + std::to_string(k) + " out of range");
  d_ = Eigen::VectorXd::Zero(n);
  for (int32_t v = 0; v < circuit.num_nodes(); ++v) {
    const double cap = p.node_capacitance_f(v);
    if (!std::isfinite(cap) || cap < 0)
      throw InputError("transient: capacitance " + format_number(cap) + " F at node '" +
                       circuit.node_name(v) + "': must be finite and >= 0");
    if (cap == 0) continue;
    const int64_t u = mna_.unknown_of_node(v);
    if (u >= 0) d_(u) += cap;
    else fixed_caps_.push_back({v, cap});
  }
  ds_ = p.s_after - p.s_before;
  b_before_ = mna_.rhs(p.s_before);
  db_ = mna_.rhs(ds_);
  out_x_ = p.output_sources * mna_.current_map_x();
  out_s_ = p.output_sources * mna_.current_map_s();
  e_x_ = select_rows(mna_.current_map_x(), p.energy_sources);
  e_s_ = select_rows(mna_.current_map_s(), p.energy_sources);
  const MnaSystem* m = &mna_;
  const LinearBackendKind kind = choose_kind();
  if (mna_.linear()) {
    f_ = std::make_unique<ShiftedFactorizations>(
        mna_.matrix(), d_, mna_.grid_coords(), kind, linear, size_t(o.max_cached_factorizations),
        [m](int64_t k) { return m->unknown_name(k); });
  } else if (n > 0) {
    // Newton's Jacobians change every iteration: a direct back end (PCG's line preconditioner
    // is for linear arrays here), refactorized on one analysis (NewtonSolver).
    newton_backend_ = make_linear_backend(kind == LinearBackendKind::kPcg ? LinearBackendKind::kCholmod : kind, linear);
    newton_backend_->set_unknown_names([m](int64_t k) { return m->unknown_name(k); });
    newton_ = std::make_unique<NewtonSolver>(mna_, *newton_backend_, o.newton);
  }
  energy_ = Eigen::VectorXd::Zero(int64_t(p.energy_sources.size()));
}

// The DC states before and after, the output scale, and the consistent state just after t = 0.
void Integrator::initial_state() {
  const int64_t n = mna_.size();
  x_ = dc_state(b_before_, p_.s_before);
  x_dc_ = dc_state(b_before_ + db_, p_.s_after);
  out_.outputs_dc = outputs(x_dc_, p_.s_after);
  out_.output_scale = y_scale_ = inf_norm(out_.outputs_dc);
  v_scale_ = std::max(inf_norm(x_dc_.head(mna_.num_free_nodes())), inf_norm(x_.head(mna_.num_free_nodes())));
  p_dc_ = source_power(o_.t_stop_s, x_dc_);
  out_.static_power_w = p_dc_.sum();
  // The ideal step: nodes without capacitance (and branch currents) jump to the values KCL
  // gives them under s_after with every capacitor voltage held; their derivatives follow from
  // the same KCL rows differentiated. One factorization of their block of A serves both.
  const SparseMatrix& a = mna_.matrix();
  const Eigen::VectorXd mask = (d_.array() != 0).cast<double>().matrix();
  std::vector<int64_t> alg;
  for (int64_t u = 0; u < n; ++u)
    if (d_(u) == 0) alg.push_back(u);
  std::unique_ptr<ShiftedFactorizations> fa;
  SparseMatrix aa;
  const int64_t na = int64_t(alg.size());
  auto restrict = [&](const Eigen::VectorXd& v) {
    Eigen::VectorXd r(na);
    for (int64_t k = 0; k < na; ++k) r(k) = v(alg[size_t(k)]);
    return r;
  };
  if (!mna_.linear()) {
    // Nonlinear cells: x' at the capacitors only, and a backward-Euler first step where the
    // other unknowns would have to jump (be_start_).
    be_start_ = na > 0 && o_.t_rise_s == 0 && !all_zero(ds_);
    xp_ = capacitor_currents(0, x_).cwiseProduct(mask).cwiseQuotient(d_ + (Eigen::VectorXd::Ones(n) - mask));
    t_ = 0;
    record(0, x_);
    return;
  }
  // Without any capacitance the block is A itself, whose DC factorization f_ already holds.
  if (na > 0 && na < n && !all_zero(db_)) {
    std::vector<int64_t> pos(size_t(n), -1);
    for (size_t k = 0; k < alg.size(); ++k) pos[size_t(alg[k])] = int64_t(k);
    std::vector<Eigen::Triplet<double, int64_t>> t;
    for (int64_t c = 0; c < a.outerSize(); ++c)
      for (SparseMatrix::InnerIterator it(a, c); it; ++it)
        if (pos[size_t(it.row())] >= 0 && pos[size_t(c)] >= 0)
          t.emplace_back(pos[size_t(it.row())], pos[size_t(c)], it.value());
    aa.resize(na, na);
    aa.setFromTriplets(t.begin(), t.end());
    fa = std::make_unique<ShiftedFactorizations>(aa, Eigen::VectorXd::Zero(na), std::vector<GridCoord>{},
                                                 mna_.spd() ? LinearBackendKind::kCholmod : LinearBackendKind::kKlu,
                                                 LinearBackendOptions{}, 1,
                                                 [&](int64_t k) { return mna_.unknown_name(alg[size_t(k)]); });
  }
  auto solve_block = [&](const Eigen::VectorXd& r) -> Eigen::VectorXd {
    if (fa) return fa->solve(0, restrict(r));
    return f_->solve(0, r);
  };
  const bool block = na > 0 && !all_zero(db_);
  if (block && o_.t_rise_s == 0) {
    const Eigen::VectorXd dxa = solve_block(b_at(0) - a * x_);
    for (int64_t k = 0; k < na; ++k) x_(alg[size_t(k)]) += dxa(k);
  }
  // x' at t = 0 (after the step): the resistive current into each capacitor over its
  // capacitance; for the other unknowns A_aa x'_a = b'_a - A_ac x'_c.
  xp_ = (b_at(0) - a * x_).cwiseProduct(mask).cwiseQuotient(d_ + (Eigen::VectorXd::Ones(n) - mask));
  if (block) {
    const Eigen::VectorXd db_dt = o_.t_rise_s > 0 ? Eigen::VectorXd(db_ / o_.t_rise_s) : Eigen::VectorXd::Zero(n);
    const Eigen::VectorXd xpa = solve_block(db_dt - a * xp_);
    for (int64_t k = 0; k < na; ++k) xp_(alg[size_t(k)]) = xpa(k);
  }
  if (fa) {
    out_.factorizations += fa->factorizations();
    out_.factorize_s += fa->factorize_s();
    out_.analyze_s += fa->analyze_s();
  }
  t_ = 0;
  record(0, x_);
}

double Integrator::error_ratio(const Eigen::VectorXd& est) const {
  const double v = v_scale_ > 0 ? inf_norm(est.head(mna_.num_free_nodes())) / (o_.lte_tol * v_scale_) : 0.0;
  if (y_scale_ > 0) {
    const double y = inf_norm(out_x_ * est) / (o_.lte_tol * y_scale_);
    // Nonlinear cells on held nodes carry output current that out_x_ does not see: the node
    // voltages are held to the tolerance too.
    return mna_.linear() ? y : std::max(y, v);
  }
  return v;
}

bool Integrator::steady() const {
  // Nonlinear cells: no closed form for the rest of the decay; the run steps on to t_stop.
  if (t_ < o_.t_rise_s || !mna_.linear()) return false;
  const double tol = kSteady * o_.lte_tol;
  return inf_norm(ys_.back() - out_.outputs_dc) <= tol * y_scale_ &&
         inf_norm((x_ - x_dc_).head(mna_.num_free_nodes())) <= tol * v_scale_;
}

void Integrator::finish_steady(double t_end) {
  // What is left is x_dc + e(t), D e' + A e = 0, whose integral to infinity is A^-1 D e(t_):
  // beyond P_dc (t_end - t_), each source delivers -s_k (E_x A^-1 D e)_k more.
  const Eigen::VectorXd ie = f_->solve(0, d_.cwiseProduct(x_ - x_dc_));
  const Eigen::VectorXd i_tail = e_x_ * ie;
  for (size_t k = 0; k < p_.energy_sources.size(); ++k) {
    const Eigen::Index kk = Eigen::Index(k);
    energy_(kk) += p_dc_(kk) * (t_end - t_) - p_.s_after(p_.energy_sources[k]) * i_tail(kk);
  }
  out_.steady_from_s = t_;
  x_ = x_dc_;
  t_ = t_end;
  record(t_, x_);
}

bool Integrator::stage(double sigma, double t, const Eigen::VectorXd& hist, const Eigen::VectorXd& guess,
                       Eigen::VectorXd& x) {
  if (mna_.linear()) {
    x = f_->solve(sigma, b_at(t) + hist);
    return true;
  }
  if (!newton_) {  // nothing to solve: every node is held
    x = Eigen::VectorXd::Zero(0);
    return true;
  }
  bool ok = false;
  const auto t0 = std::chrono::steady_clock::now();
  NewtonResult r = newton_->solve_shifted(s_at(t), sigma * d_, hist, guess, &ok);
  out_.newton_iterations += r.iterations;
  out_.factorize_s += r.factorize_s;
  out_.solve_s += seconds_since(t0) - r.factorize_s;
  ++out_.solves;
  x = std::move(r.x);
  return ok && x.allFinite();
}

Eigen::VectorXd Integrator::dc_state(const Eigen::VectorXd& b, const Eigen::VectorXd& s) {
  const int64_t n = mna_.size();
  if (mna_.linear()) return all_zero(b) ? Eigen::VectorXd::Zero(n) : Eigen::VectorXd(f_->solve(0, b));
  if (!newton_) return Eigen::VectorXd::Zero(0);
  const NewtonResult r = newton_->solve(s);  // gmin and source stepping as the DC solve does
  out_.newton_iterations += r.iterations;
  out_.factorize_s += r.factorize_s;
  return r.x;
}

Integrator::Step Integrator::step(double h, bool estimate) {
  ++attempts_;
  if (attempts_ > o_.max_steps)
    throw NumericalError("transient: more than max-steps = " + std::to_string(o_.max_steps) +
                         " steps before t-stop (at t = " + format_number(t_) + " s, step " +
                         format_number(h) + " s); raise max-steps or lte-tol, or give time-step");
  Step s;
  const Eigen::VectorXd& x = x_;
  Eigen::VectorXd est;  // local error estimate, in x
  if (o_.method == TransientMethod::kBackwardEuler || (be_start_ && out_.steps == 0)) {
    const double sigma = 1 / h;
    s.failed = !stage(sigma, t_ + h, sigma * d_.cwiseProduct(x), x, s.x);
    if (s.failed) return s;
    s.xp = sigma * (s.x - x);
    s.energy = h * source_power(t_ + h, s.x);
    // x'' h^2 / 2, from the derivatives at both ends.
    if (estimate) est = (0.5 * h) * (s.xp - xp_);
  } else {
    const double sigma = 1 / (kD * h);
    const double tg = t_ + kGamma * h;
    // Trapezoidal stage to t + gamma h: D (x_g - x) 2 / (gamma h) = D x' + (b(t_g) - A x_g).
    Eigen::VectorXd xg;
    s.failed = !stage(sigma, tg, d_.cwiseProduct(xp_ + sigma * x), x, xg);
    if (s.failed) return s;
    const Eigen::VectorXd xpg = sigma * (xg - x) - xp_;
    // BDF2 stage to t + h through (t, t + gamma h, t + h).
    s.failed = !stage(sigma, t_ + h, sigma * d_.cwiseProduct(kA * xg - kB * x), xg, s.x);
    if (s.failed) return s;
    s.xp = sigma * (s.x - kA * xg + kB * x);
    s.energy = h * (kEnd * (source_power(t_, x) + source_power(tg, xg)) + kD * source_power(t_ + h, s.x));
    // kErr h^3 x''' with x''' from the second divided difference of x' over the three points
    // (Bank et al.'s estimate; the derivatives are those the two stages imply, at each
    // capacitor D^-1 times the current into it).
    if (estimate) est = (2 * kErr * h) * ((s.xp - xpg) / (1 - kGamma) - (xpg - xp_) / kGamma);
  }
  if (estimate) s.ratio = error_ratio(est);
  return s;
}

void Integrator::accept(Step& s, double h) {
  x_ = std::move(s.x);
  xp_ = std::move(s.xp);
  energy_ += s.energy;
  ++out_.steps;
  out_.min_step_s = out_.steps == 1 ? h : std::min(out_.min_step_s, h);
  out_.max_step_s = std::max(out_.max_step_s, h);
  last_h_ = h;
}

void Integrator::run_fixed(double t0, double t1) {
  const double len = t1 - t0, h = o_.time_step_s;
  // Steps of h, the last one shortened to land on t1 (a sliver below 1e-9 h is merged).
  const int64_t n = std::max<int64_t>(1, int64_t(std::ceil(len / h - 1e-9)));
  for (int64_t j = 0; j < n; ++j) {
    const double t_next = j + 1 == n ? t1 : t0 + double(j + 1) * h;
    const double hj = j + 1 == n ? t1 - (t0 + double(j) * h) : h;
    Step s = step(hj, false);
    if (s.failed)
      throw NumericalError("transient: Newton did not converge on the step from t = " + format_number(t_) +
                           " s to " + format_number(t_next) + " s (key time-step = " +
                           format_number(o_.time_step_s) + " s): give a smaller time-step, or 0 for "
                           "adaptive steps, which shorten themselves");
    accept(s, hj);
    t_ = t_next;
    record(t_, x_);
  }
}

void Integrator::run_adaptive(double t0, double t1, int& rung) {
  const double len = t1 - t0;
  const uint64_t units = uint64_t(1) << kMaxRung;
  uint64_t pos = 0;
  const double exponent = 1.0 / (order() + 1);
  while (pos < units) {
    if (be_start_ && out_.steps == 0) {
      // The backward-Euler start (be_start_): its error estimate would count the jump of the
      // nodes without capacitance as error, so it is not estimated; it is taken kBeStartRungs
      // below the first guess instead, where its error (~h^2 x'' / 2) is negligible.
      rung = std::min(rung + kBeStartRungs, kMaxRung);
      const double h = std::ldexp(len, -rung);
      Step s = step(h, false);
      if (s.failed)
        throw NumericalError("transient: Newton did not converge on the first (backward-Euler) step of " +
                             format_number(h) + " s");
      accept(s, h);
      pos += units >> rung;
      t_ = t0 + len * std::ldexp(double(pos), -kMaxRung);
      record(t_, x_);
      continue;
    }
    const double h = std::ldexp(len, -rung);
    Step s = step(h, true);
    double factor = s.ratio > 0 ? kSafety * std::pow(s.ratio, -exponent) : kMaxFactor;
    factor = std::clamp(factor, kMinFactor, kMaxFactor);
    if (s.failed) factor = 0.25;  // Newton did not converge: a quarter of the step
    if (s.failed || !(s.ratio <= 1)) {
      ++out_.rejected_steps;
      rung += std::max(1, int(std::ceil(-std::log2(factor))));
      if (rung > kMaxRung)
        throw NumericalError("transient: step size underflow at t = " + format_number(t_) +
                             " s (the error control asks for steps below " +
                             format_number(std::ldexp(len, -kMaxRung)) + " s)");
      continue;
    }
    accept(s, h);
    pos += units >> rung;
    t_ = pos == units ? t1 : t0 + len * std::ldexp(double(pos), -kMaxRung);
    record(t_, x_);
    if (t1 == o_.t_stop_s && pos < units && steady()) {
      finish_steady(t1);
      return;
    }
    // Next rung: as large as the error allows (at most two rungs up), and only as large as
    // divides the elapsed time, so that every step size stays on the ladder.
    int next = rung - std::min(2, int(std::floor(std::log2(factor))));
    next = std::max(next, 0);
    while (next < rung && pos % (units >> next) != 0) ++next;
    rung = std::min(next, kMaxRung);
  }
}

LinearBackendKind Integrator::choose_kind() {
  const BackendChoice asked = o_.backend;
  if (asked == BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: the transient is integrated natively (auto, native, "
                     "cholmod, klu or pcg); ngspice is its referee (solvers/transient_referee.h)");
  const bool spd = mna_.spd();
  std::string why;
  const bool lines = spd && mna_.size() > 0 && LineSystem::applicable(mna_.matrix(), mna_.grid_coords(), &why);
  if (asked == BackendChoice::kKlu) return LinearBackendKind::kKlu;
  if ((asked == BackendChoice::kAuto || asked == BackendChoice::kPcg) && lines) return LinearBackendKind::kPcg;
  if (asked == BackendChoice::kPcg)
    note_ = "pcg requested but its line preconditioner does not apply (" +
            (spd ? why : std::string("the system is not SPD")) + "); ";
  if (asked == BackendChoice::kCholmod && !spd) note_ = "cholmod requested but the system is not SPD; ";
  if (asked == BackendChoice::kEigen)
    note_ = spd ? "eigen requested but a transient's shifted factorizations share one CHOLMOD analysis: used cholmod; "
                : "eigen requested but the system is not SPD; ";
  return spd ? LinearBackendKind::kCholmod : LinearBackendKind::kKlu;
}

int Integrator::first_rung(double len) const {
  // x'' and x''' of the capacitor voltages from D x^(k+1) = -A x^(k) (sources constant after
  // the step; nodes without capacitance left at 0: a first guess).
  const Eigen::VectorXd inv_d = (d_.array() > 0).select(d_.cwiseInverse(), 0.0);
  const Eigen::VectorXd x2 = -(mna_.matrix() * xp_).cwiseProduct(inv_d);
  const Eigen::VectorXd x3 = -(mna_.matrix() * x2).cwiseProduct(inv_d);
  const bool trbdf2 = o_.method == TransientMethod::kTrBdf2;
  const Eigen::VectorXd& xk = trbdf2 ? x3 : x2;
  const double c = trbdf2 ? std::abs(kErr) : 0.5;
  double deriv = 0, tol = 0;
  if (y_scale_ > 0) {
    deriv = inf_norm(out_x_ * xk);
    tol = o_.lte_tol * y_scale_;
  } else if (v_scale_ > 0) {
    deriv = inf_norm(xk.head(mna_.num_free_nodes()));
    tol = o_.lte_tol * v_scale_;
  }
  if (!(deriv > 0) || !std::isfinite(deriv)) return kFirstRung;
  const double h = std::pow(kFirstStepShare * tol / (c * deriv), 1.0 / (order() + 1));
  return std::clamp(int(std::ceil(std::log2(len / h))), 0, kMaxRung);
}

void Integrator::run() {
  const auto t0 = std::chrono::steady_clock::now();
  out_.method = to_string(o_.method);
  out_.unknowns = mna_.size();
  initial_state();
  std::vector<std::pair<double, double>> intervals;
  if (o_.t_rise_s > 0) intervals.push_back({0, o_.t_rise_s});
  intervals.push_back({o_.t_rise_s, o_.t_stop_s});
  int rung = o_.time_step_s > 0 ? 0 : first_rung(intervals.front().second - intervals.front().first);
  for (const auto& [a, b] : intervals) {
    if (o_.time_step_s > 0) {
      run_fixed(a, b);
    } else {
      run_adaptive(a, b, rung);
      // The next interval starts with (at most) the last step size, on its own ladder.
      rung = std::clamp(int(std::ceil(std::log2((o_.t_stop_s - b) / last_h_))), 0, kMaxRung);
    }
  }
  // Results.
  const int64_t t_count = int64_t(times_.size());
  out_.times_s = Eigen::Map<const Eigen::VectorXd>(times_.data(), t_count);
  out_.outputs.resize(t_count, out_x_.rows());
  for (int64_t k = 0; k < t_count; ++k) out_.outputs.row(k) = ys_[size_t(k)].transpose();
  out_.source_energy_j = energy_;
  // Capacitors on source-held nodes: (1/2) C (V_end^2 - V_start^2) each.
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(mna_.size());
  if (!fixed_caps_.empty()) {
    const Eigen::MatrixXd v0 = mna_.node_voltages(zero, p_.s_before);
    const Eigen::MatrixXd v1 = mna_.node_voltages(zero, s_at(o_.t_stop_s));
    for (const auto& [node, cap] : fixed_caps_) {
      out_.fixed_cap_energy_j += 0.5 * cap * (v1(node, 0) * v1(node, 0) - v0(node, 0) * v0(node, 0));
      out_.stored_energy_j += 0.5 * cap * v1(node, 0) * v1(node, 0);
    }
  }
  out_.energy_j = energy_.sum() + out_.fixed_cap_energy_j;
  out_.stored_energy_j += 0.5 * x_.dot(d_.cwiseProduct(x_));
  out_.final_vs_dc = y_scale_ > 0 ? inf_norm(ys_.back() - out_.outputs_dc) / y_scale_ : 0.0;
  if (f_) {
    out_.backend = f_->backend_name();
    out_.ordering = f_->ordering_used();
    out_.factorizations += f_->factorizations();
    out_.solves = f_->solves();
    out_.analyze_s += f_->analyze_s();
    out_.factorize_s += f_->factorize_s();
    out_.solve_s = f_->solve_s();
    out_.factor_nonzeros = f_->factor_nonzeros();
    out_.max_backward_error = f_->max_backward_error();
    out_.cg_iterations = f_->cg_iterations();
  } else if (newton_backend_) {
    out_.backend = newton_backend_->name();
    out_.ordering = newton_backend_->stats().ordering_used;
    out_.analyze_s += newton_backend_->stats().analyze_s;
    out_.factor_nonzeros = newton_backend_->stats().nnz_factor;
  }
  out_.total_s = seconds_since(t0);
  out_.message = note_ + out_.method + (o_.time_step_s > 0 ? ", fixed step " + format_number(o_.time_step_s) + " s"
                                                   : ", adaptive (lte-tol " + format_number(o_.lte_tol) + ")") +
                 ": " + std::to_string(out_.steps) + " steps (" + std::to_string(out_.rejected_steps) +
                 " rejected) from " + format_3g(out_.min_step_s) + " to " + format_3g(out_.max_step_s) +
                 " s, " +
                 (mna_.linear() ? std::to_string(out_.factorizations) + " factorizations (" + out_.backend + ")"
                                : "Newton on every stage, " + std::to_string(out_.newton_iterations) +
                                      " iterations (" + out_.backend + ")") +
                 (out_.cg_iterations ? ", " + std::to_string(out_.cg_iterations) + " CG iterations in " +
                                           std::to_string(out_.solves) + " solves"
                                     : std::string());
}

}  // namespace

TransientRun run_transient(const netlists::Circuit& circuit, const TransientProblem& problem,
                           const TransientOptions& options, const LinearBackendOptions& linear) {
  TransientRun out;
  const auto t0 = std::chrono::steady_clock::now();
  Integrator in(circuit, problem, options, linear, out, t0);
  in.run();
  out.total_s = seconds_since(t0);
  return out;
}

}  // namespace xbar::solvers
