#include "solvers/newton.h"

#include <cmath>

#include "devices/format.h"
#include "devices/input_error.h"

namespace xbar::solvers {

namespace {
// Chord steps (see run()) start once a Newton step moved no node by more than this (volts):
// the cell conductances then change by ~k * 1e-3 relative, so the old factorization still
// contracts the error ~1000-fold per step.
constexpr double kReuseStepV = 1e-3;
// A chord step must shrink the largest residual at least this many times, or the Jacobian is
// refreshed.
constexpr double kReuseContraction = 10.0;
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
  if (refactor) factorize();
}

void NewtonSolver::factorize() {
  backend_.factorize(jac_);
  factorize_s_ += backend_.stats().factorize_s;
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
    Eigen::VectorXd dx = -backend_.solve(f);
    if (!dx.allFinite()) return false;
    const double step = dx.size() ? dx.cwiseAbs().maxCoeff() : 0.0;
    if (step > options_.max_step_v) dx *= options_.max_step_v / step;  // damping
    bool small = true;
    for (int64_t k = 0; k < x.size() && small; ++k)
      small = std::abs(dx(k)) <= options_.reltol * std::max(std::abs(x(k)), std::abs(x(k) + dx(k))) + options_.vntol_v;
    x += dx;
    // Converged: the update was below the voltage tolerance and the residual before it below
    // the current tolerance (SPICE checks both).
    if (small && step <= options_.max_step_v &&
        residual <= options_.reltol * scale + options_.abstol_a)
      return true;
    reuse = step < kReuseStepV;
  }
  return false;
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
  {
    const SparseMatrix& a = mna_.matrix();
    std::copy(a.valuePtr(), a.valuePtr() + a.nonZeros(), jac_.valuePtr());
    mna_.add_zero_bias_jacobian(s, jac_.valuePtr());
    factorize();
  }
  Eigen::VectorXd x = backend_.solve(mna_.rhs(s));
  r.strategy = "newton";
  if (run(x, s, 0.0, r.iterations, residual, worst)) {
    r.x = x;
    r.residual_a = residual;
    r.factorize_s = factorize_s_;
    return r;
  }
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
    if (alpha >= 1) {
      r.x = xs;
      r.strategy = "source stepping";
      r.residual_a = residual;
      r.factorize_s = factorize_s_;
    return r;
    }
  }
  throw NumericalError("Newton did not converge after " + std::to_string(r.iterations) +
                       " iterations (plain, gmin and source stepping): worst KCL residual " +
                       format_number(residual) + " A at " + mna_.unknown_name(worst));
}

}  // namespace xbar::solvers
