#include "solvers/newton.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

namespace {
// Chord steps (see run()) start once a Newton step moved no node by more than this (volts):
// the cell conductances then change by ~k * 2e-2 relative (k = 2/V for the sinh cell), so the
// old factorization still contracts the error 25-fold or more per step, at a fraction of a
// refactorization's cost (measured at 64^2: ~200-fold for 1t1r, one chord step 0.3 ms against
// 2.3 ms for a KLU refactorization). The contraction test below catches the exceptions.
constexpr double kReuseStepV = 2e-2;
// A chord step must shrink the largest residual at least this many times, or the Jacobian is
// refreshed.
constexpr double kReuseContraction = 10.0;
// The start (NewtonSolver::start()): conjugate gradients on the zero-bias system until the
// residual is this small relative to the right-hand side. The start only has to be as good as
// the error the first Newton step leaves (~1e-2 V); 1e-6 gives the same iterates as an exact
// solve, in five CG steps at 64^2.
constexpr double kStartRelTol = 1e-6;
// CG steps allowed before the start falls back to factorizing the zero-bias Jacobian.
constexpr int kStartMaxIterations = 60;

// Incomplete Cholesky IC(0) of the symmetric matrix a (both triangles stored): l gets a's lower
// triangle, overwritten by L with A ~ L L^T on that pattern. False when a pivot is not positive
// (a is not positive definite, or IC(0) breaks down).
bool incomplete_cholesky(const SparseMatrix& a, SparseMatrix& l) {
  l = a.triangularView<Eigen::Lower>();
  const int64_t n = l.cols();
  const int64_t* p = l.outerIndexPtr();
  const int64_t* r = l.innerIndexPtr();
  double* v = l.valuePtr();
  for (int64_t j = 0; j < n; ++j) {
    if (p[j] == p[j + 1] || r[p[j]] != j || !(v[p[j]] > 0)) return false;
    const double d = std::sqrt(v[p[j]]);
    v[p[j]] = d;
    for (int64_t q = p[j] + 1; q < p[j + 1]; ++q) v[q] /= d;
    // L(i, k) -= L(i, j) L(k, j) for rows i >= k of column j, where (i, k) is in the pattern.
    for (int64_t q = p[j] + 1; q < p[j + 1]; ++q) {
      const int64_t k = r[q];
      int64_t t = p[k];
      for (int64_t u = q; u < p[j + 1]; ++u) {
        while (t < p[k + 1] && r[t] < r[u]) ++t;
        if (t < p[k + 1] && r[t] == r[u]) v[t] -= v[u] * v[q];
      }
    }
  }
  return true;
}

// Conjugate gradients on a y = b from y = 0, preconditioned by L L^T (incomplete_cholesky()).
// True once |b - a y| <= kStartRelTol |b|; false on breakdown or after kStartMaxIterations.
bool preconditioned_cg(const SparseMatrix& a, const SparseMatrix& l, const Eigen::VectorXd& b,
                       Eigen::VectorXd& y) {
  auto precondition = [&](Eigen::VectorXd& z) {
    l.triangularView<Eigen::Lower>().solveInPlace(z);
    l.transpose().triangularView<Eigen::Upper>().solveInPlace(z);
  };
  y = Eigen::VectorXd::Zero(b.size());
  const double target = kStartRelTol * b.norm();
  if (target == 0) return true;
  Eigen::VectorXd r = b, z = b;
  precondition(z);
  Eigen::VectorXd d = z;
  double rz = r.dot(z);
  for (int it = 0; it < kStartMaxIterations; ++it) {
    const Eigen::VectorXd ad = a * d;
    const double dad = d.dot(ad);
    if (!(dad > 0)) return false;
    const double alpha = rz / dad;
    y += alpha * d;
    r -= alpha * ad;
    if (r.norm() <= target) return true;
    z = r;
    precondition(z);
    const double rz_next = r.dot(z);
    d = z + (rz_next / rz) * d;
    rz = rz_next;
  }
  return false;
}
}  // namespace

void NewtonOptions::validate() const {
  const std::pair<const char*, double> positive[] = {
      {"reltol", reltol}, {"vntol", vntol_v}, {"abstol", abstol_a}, {"max-step", max_step_v}, {"gmin-start", gmin_start_s}};
  for (const auto& [key, v] : positive)
    if (!std::isfinite(v) || v <= 0)
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be > 0");
  if (max_iterations < 1)
    throw InputError("key max-iterations = " + std::to_string(max_iterations) + ": must be >= 1");
  if (source_steps < 1)
    throw InputError("key source-steps = " + std::to_string(source_steps) + ": must be >= 1");
}

NewtonSolver::NewtonSolver(const MnaSystem& mna, LinearBackend& backend, const NewtonOptions& options)
    : mna_(mna), backend_(backend), options_(options), jac_(mna.matrix()) {
  options_.validate();
  build_condensation();
  if (internal_.empty()) {
    backend_.analyze(jac_, mna.grid_coords());
    return;
  }
  std::vector<GridCoord> coords;
  if (!mna.grid_coords().empty()) {
    coords.reserve(kept_.size());
    for (int64_t k : kept_) coords.push_back(mna.grid_coords()[size_t(k)]);
  }
  // The backend's unknowns are the kept ones: name them as the full system does.
  const MnaSystem* m = &mna;
  const std::vector<int64_t>* kept = &kept_;
  backend_.set_unknown_names([m, kept](int64_t k) { return m->unknown_name((*kept)[size_t(k)]); });
  backend_.analyze(schur_, coords);
}

void NewtonSolver::build_condensation() {
  const std::vector<int64_t>& nodes = mna_.internal_nodes();
  const int64_t n = mna_.size();
  // Nothing to eliminate, or nothing would be left to factorize (a lone cell between fixed
  // nodes): solve the full system.
  if (nodes.empty() || int64_t(nodes.size()) == n) return;
  std::vector<int64_t> kept_of(size_t(n), 0);  // unknown -> kept index, -1 when eliminated
  for (int64_t e : nodes) kept_of[size_t(e)] = -1;
  for (int64_t k = 0; k < n; ++k)
    if (kept_of[size_t(k)] >= 0) {
      kept_of[size_t(k)] = int64_t(kept_.size());
      kept_.push_back(k);
    }
  const int64_t* outer = jac_.outerIndexPtr();
  const int64_t* rows = jac_.innerIndexPtr();
  auto slot_in = [](const SparseMatrix& a, int64_t row, int64_t col) {
    const int64_t* lo = a.innerIndexPtr() + a.outerIndexPtr()[col];
    const int64_t* hi = a.innerIndexPtr() + a.outerIndexPtr()[col + 1];
    const int64_t* it = std::lower_bound(lo, hi, row);
    XBAR_EXPECTS(it != hi && *it == row, "NewtonSolver: Jacobian entry outside the pattern");
    return int64_t(it - a.innerIndexPtr());
  };
  // The pattern is symmetric, so column e lists e's neighbours. Fill: S(nb_a, nb_b), kept as
  // (column, row) pairs.
  std::vector<std::pair<int64_t, int64_t>> fill;
  internal_.reserve(nodes.size());
  for (int64_t e : nodes) {
    Internal c;
    c.unknown = e;
    c.slot_ee = slot_in(jac_, e, e);
    for (int64_t k = outer[e]; k < outer[e + 1]; ++k) {
      if (rows[k] == e) continue;
      XBAR_EXPECTS(c.n < 2 && kept_of[size_t(rows[k])] >= 0,
                   "NewtonSolver: an internal node with more than two neighbours or next to another");
      c.nb[c.n] = kept_of[size_t(rows[k])];
      c.slot_ne[c.n] = k;
      c.slot_en[c.n] = slot_in(jac_, e, rows[k]);
      ++c.n;
    }
    if (c.n == 2) {
      fill.emplace_back(c.nb[1], c.nb[0]);
      fill.emplace_back(c.nb[0], c.nb[1]);
    }
    internal_.push_back(c);
  }
  std::sort(fill.begin(), fill.end());
  fill.erase(std::unique(fill.begin(), fill.end()), fill.end());
  // S's pattern, column by column: the kept rows of the kept column (kept_of is increasing,
  // so they stay sorted) merged with that column's fill.
  const int64_t nk = int64_t(kept_.size());
  std::vector<int64_t> s_outer(size_t(nk) + 1, 0), s_rows;
  s_rows.reserve(size_t(jac_.nonZeros()));
  schur_from_.reserve(size_t(jac_.nonZeros()));
  auto f = fill.begin();
  for (int64_t col = 0; col < nk; ++col) {
    const int64_t full = kept_[size_t(col)];
    int64_t k = outer[full];
    for (;;) {
      while (k < outer[full + 1] && kept_of[size_t(rows[k])] < 0) ++k;
      const int64_t from_jac = k < outer[full + 1] ? kept_of[size_t(rows[k])] : nk;
      const int64_t from_fill = f != fill.end() && f->first == col ? f->second : nk;
      if (from_jac == nk && from_fill == nk) break;
      s_rows.push_back(std::min(from_jac, from_fill));
      schur_from_.push_back(from_jac <= from_fill ? k : -1);
      if (from_jac <= from_fill) ++k;
      if (from_fill <= from_jac) ++f;
    }
    s_outer[size_t(col) + 1] = int64_t(s_rows.size());
  }
  schur_.resize(nk, nk);
  schur_.resizeNonZeros(int64_t(s_rows.size()));
  std::copy(s_outer.begin(), s_outer.end(), schur_.outerIndexPtr());
  std::copy(s_rows.begin(), s_rows.end(), schur_.innerIndexPtr());
  std::fill(schur_.valuePtr(), schur_.valuePtr() + schur_.nonZeros(), 0.0);
  for (Internal& c : internal_)
    for (int a = 0; a < c.n; ++a)
      for (int b = 0; b < c.n; ++b) c.slot_s[a][b] = slot_in(schur_, c.nb[a], c.nb[b]);
}

// Jacobian at x (linear part + cell conductances + gmin on the node diagonal), factorized;
// f gets the KCL residual A x - b + cell currents + gmin x.
void NewtonSolver::factorize_at(const Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin,
                                Eigen::VectorXd& f, double& scale, bool refactor) {
  const SparseMatrix& a = mna_.matrix();
  if (refactor) std::copy(a.valuePtr(), a.valuePtr() + a.nonZeros(), jac_.valuePtr());
  f = a * x - mna_.rhs(s);
  scale = mna_.nonlinear_residual(x, s, f, refactor ? jac_.valuePtr() : nullptr, nullptr);
  if (gmin > 0) {
    for (int64_t k = 0; k < mna_.num_free_nodes(); ++k) {
      if (refactor) jac_.coeffRef(k, k) += gmin;
      f(k) += gmin * x(k);
    }
  }
  if (shunt_) {  // a transient stage (solve_shifted())
    for (int64_t k = 0; k < x.size(); ++k) {
      const double g = (*shunt_)(k);
      if (g == 0) continue;
      if (refactor) jac_.coeffRef(k, k) += g;
      f(k) += g * x(k);
    }
    f -= *extra_;
  }
  if (refactor) factorize();
}

NewtonResult NewtonSolver::solve_shifted(const Eigen::VectorXd& s, const Eigen::VectorXd& shunt_s,
                                         const Eigen::VectorXd& extra_a, Eigen::VectorXd x0, bool* converged) {
  struct Reset {  // the shunt holds only for this call, whatever happens in it
    NewtonSolver& n;
    ~Reset() { n.shunt_ = n.extra_ = nullptr; }
  } reset{*this};
  shunt_ = &shunt_s;
  extra_ = &extra_a;
  factorize_s_ = 0;
  NewtonResult r;
  r.strategy = "newton";
  int64_t worst = 0;
  *converged = run(x0, s, 0.0, r.iterations, r.residual_a, worst);
  r.x = std::move(x0);
  r.factorize_s = factorize_s_;
  return r;
}

void NewtonSolver::condense() {
  if (internal_.empty()) return;
  const double* j = jac_.valuePtr();
  double* sv = schur_.valuePtr();
  for (size_t k = 0; k < schur_from_.size(); ++k) sv[k] = schur_from_[k] >= 0 ? j[schur_from_[k]] : 0.0;
  for (const Internal& c : internal_) {
    const double d = j[c.slot_ee];
    for (int a = 0; a < c.n; ++a) {
      const double l = j[c.slot_ne[a]] / d;
      for (int b = 0; b < c.n; ++b) sv[c.slot_s[a][b]] -= l * j[c.slot_en[b]];
    }
  }
}

void NewtonSolver::factorize() {
  const auto t0 = std::chrono::steady_clock::now();
  condense();
  backend_.factorize(reduced());
  ++factorizations_;
  factorize_s_ += internal::seconds_since(t0);
}

template <class ReducedSolve>
Eigen::VectorXd NewtonSolver::solve_condensed(const Eigen::VectorXd& r, ReducedSolve&& reduced_solve) const {
  if (internal_.empty()) return reduced_solve(r);
  // [J_kk J_ke; J_ek J_ee] [y_k; y_e] = [r_k; r_e]:  S y_k = r_k - J_ke J_ee^-1 r_e, then
  // y_e = J_ee^-1 (r_e - J_ek y_k), with the values of the last condensation (chord steps
  // reuse them along with the factorization).
  const double* j = jac_.valuePtr();
  Eigen::VectorXd g(int64_t(kept_.size()));
  for (size_t k = 0; k < kept_.size(); ++k) g(int64_t(k)) = r(kept_[k]);
  for (const Internal& c : internal_) {
    const double re = r(c.unknown) / j[c.slot_ee];
    for (int a = 0; a < c.n; ++a) g(c.nb[a]) -= j[c.slot_ne[a]] * re;
  }
  const Eigen::VectorXd y = reduced_solve(g);
  Eigen::VectorXd x(r.size());
  for (size_t k = 0; k < kept_.size(); ++k) x(kept_[k]) = y(int64_t(k));
  for (const Internal& c : internal_) {
    double v = r(c.unknown);
    for (int a = 0; a < c.n; ++a) v -= j[c.slot_en[a]] * y(c.nb[a]);
    x(c.unknown) = v / j[c.slot_ee];
  }
  return x;
}

Eigen::VectorXd NewtonSolver::solve_jacobian(const Eigen::VectorXd& r) const {
  return solve_condensed(r, [&](const Eigen::VectorXd& g) -> Eigen::VectorXd { return backend_.solve(g); });
}

bool NewtonSolver::converged(const Eigen::Ref<const Eigen::VectorXd>& x, const Eigen::Ref<const Eigen::VectorXd>& dx, double step, double residual,
                             double scale) const {
  // The update is below the voltage tolerance and the residual before it below the current
  // tolerance (SPICE checks both); a damped step never converges.
  if (step > options_.max_step_v || !(residual <= options_.reltol * scale + options_.abstol_a)) return false;
  for (int64_t k = 0; k < x.size(); ++k)
    if (!(std::abs(dx(k)) <= options_.reltol * std::max(std::abs(x(k)), std::abs(x(k) + dx(k))) + options_.vntol_v))
      return false;
  return true;
}

Eigen::MatrixXd NewtonSolver::solve_jacobian_columns(const Eigen::MatrixXd& r) const {
  if (internal_.empty()) return backend_.solve(r);
  // As solve_condensed(), column by column for the cheap condensation, one substitution for
  // all the columns.
  const double* j = jac_.valuePtr();
  const int64_t nk = int64_t(kept_.size());
  Eigen::MatrixXd g(nk, r.cols());
  for (int64_t k = 0; k < nk; ++k) g.row(k) = r.row(kept_[size_t(k)]);
  for (const Internal& c : internal_) {
    const auto re = r.row(c.unknown) / j[c.slot_ee];
    for (int a = 0; a < c.n; ++a) g.row(c.nb[a]) -= j[c.slot_ne[a]] * re;
  }
  const Eigen::MatrixXd y = backend_.solve(g);
  Eigen::MatrixXd x(r.rows(), r.cols());
  for (int64_t k = 0; k < nk; ++k) x.row(kept_[size_t(k)]) = y.row(k);
  for (const Internal& c : internal_) {
    Eigen::RowVectorXd v = r.row(c.unknown);
    for (int a = 0; a < c.n; ++a) v -= j[c.slot_en[a]] * y.row(c.nb[a]);
    x.row(c.unknown) = v / j[c.slot_ee];
  }
  return x;
}

bool NewtonSolver::run(Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin, int& iterations,
                       double& residual, int64_t& worst) {
  Eigen::VectorXd f;
  double scale = 0;
  // Near convergence the Jacobian hardly changes: once a step is below kReuseStepV the next
  // iteration reuses the factorization (a chord step: one residual and one substitution, no
  // factorization) as long as each such step shrinks the residual at least kReuseContraction
  // times; otherwise it refactorizes. The convergence test is on the true residual either way.
  bool reuse = false;
  double last_residual = 0;
  for (int it = 0; it < options_.max_iterations; ++it) {
    factorize_at(x, s, gmin, f, scale, !reuse);
    ++iterations;
    residual = f.size() ? f.cwiseAbs().maxCoeff(&worst) : 0.0;
    if (reuse && !(residual * kReuseContraction <= last_residual)) {
      factorize_at(x, s, gmin, f, scale, true);  // the chord step did not pay: refactorize
      reuse = false;
    }
    last_residual = residual;
    Eigen::VectorXd dx = -solve_jacobian(f);
    if (!dx.allFinite()) return false;
    const double step = dx.size() ? dx.cwiseAbs().maxCoeff() : 0.0;
    if (step > options_.max_step_v) dx *= options_.max_step_v / step;  // damping
    const bool done = converged(x, dx, step, residual, scale);
    x += dx;
    if (done) return true;
    reuse = step < kReuseStepV;
  }
  return false;
}

Eigen::VectorXd NewtonSolver::start(const Eigen::VectorXd& s) {
  const SparseMatrix& a = mna_.matrix();
  std::copy(a.valuePtr(), a.valuePtr() + a.nonZeros(), jac_.valuePtr());
  mna_.add_zero_bias_jacobian(s, jac_.valuePtr());
  condense();
  const Eigen::VectorXd b = mna_.rhs(s);
  // The zero-bias Jacobian of a network of conductances, cells and transistors at V_ds = 0 is
  // symmetric positive definite, and nearly block diagonal: strong wire chains joined by weak
  // cells, which IC(0) keeps almost exactly. So CG converges in a few steps, and the first
  // factorization happens in run(), at the start point, where Newton needs it. A system where
  // IC(0) or CG breaks down (branch rows, say) is factorized instead.
  SparseMatrix l;
  bool ok = incomplete_cholesky(reduced(), l);
  if (ok) {
    Eigen::VectorXd x = solve_condensed(b, [&](const Eigen::VectorXd& g) {
      Eigen::VectorXd y;
      ok = preconditioned_cg(reduced(), l, g, y);
      return y;
    });
    if (ok) return x;
  }
  factorize();
  return solve_jacobian(b);
}

NewtonResult NewtonSolver::solve(const Eigen::VectorXd& s) {
  NewtonResult r;
  factorize_s_ = 0;
  const int64_t n = mna_.size();
  // Start: every cell at its small-signal conductance (the Jacobian at zero cell voltage), every
  // transistor at its on-conductance for V_ds = 0 with the gates driven. Starting transistors
  // from their gates at 0 V instead (cut off) costs 1T1R arrays about twice the iterations.
  double residual = 0;
  int64_t worst = 0;
  Eigen::VectorXd x = start(s);
  r.strategy = "newton";
  if (run(x, s, 0.0, r.iterations, residual, worst)) {
    r.x = x;
    r.residual_a = residual;
    r.factorize_s = factorize_s_;
    return r;
  }
  // Where plain Newton stood at full sources: what a failure reports (the fallbacks' last
  // residuals belong to reduced sources or added gmin and would understate the problem).
  const double full_residual = residual;
  const int64_t full_worst = worst;
  double source_fraction = 0;
  if (options_.gmin_stepping) {
    Eigen::VectorXd xg = Eigen::VectorXd::Zero(n);
    bool ok = true;
    for (double gmin = options_.gmin_start_s; ok && gmin >= 1e-13; gmin /= 10)
      ok = run(xg, s, gmin, r.iterations, residual, worst);
    if (ok && run(xg, s, 0.0, r.iterations, residual, worst)) {
      r.x = xg;
      r.strategy = "gmin stepping";
      r.residual_a = residual;
      r.factorize_s = factorize_s_;
    return r;
    }
  }
  if (options_.source_stepping) {
    Eigen::VectorXd xs = Eigen::VectorXd::Zero(n);
    double alpha = 0, step = 1.0 / options_.source_steps;
    while (alpha < 1 && step > 1e-6) {
      const double next = std::min(1.0, alpha + step);
      Eigen::VectorXd trial = xs;
      if (run(trial, next * s, 0.0, r.iterations, residual, worst)) {
        xs = trial;
        alpha = next;
      } else {
        step /= 2;
      }
    }
    source_fraction = alpha;
    if (alpha >= 1) {
      r.x = xs;
      r.strategy = "source stepping";
      r.residual_a = residual;
      r.factorize_s = factorize_s_;
    return r;
    }
  }
  throw NumericalError("Newton did not converge after " + std::to_string(r.iterations) +
                       " iterations (plain, gmin and source stepping; key max-iterations = " +
                       std::to_string(options_.max_iterations) + " per run): at full sources the " +
                       "worst KCL residual is " + format_number(full_residual) + " A at " +
                       mna_.unknown_name(full_worst) +
                       (options_.source_stepping
                            ? "; source stepping reached " + format_number(source_fraction) +
                                  " of the sources"
                            : ""));
}

}  // namespace xbar::solvers
