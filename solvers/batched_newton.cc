#include "solvers/batched_newton.h"

#include <algorithm>
#include <cmath>

#include "support/input_error.h"

namespace xbar::solvers {

namespace {
// A chord step must shrink the input's largest residual at least this many times, or the input
// goes to the per-input Newton. The reference Jacobian of a batch of a network's inputs
// contracts 50-80-fold per step (a 128 x 128 sinh tile, k = 3/V, rows at 0-0.2 V, measured by
// bench/nonlinear_batch); a contraction of 2 means the cells' conductances differ from the
// reference's by tens of percent, where the per-input Newton, quadratic, is the faster way on.
constexpr double kMinChordContraction = 2.0;
// An input whose chord steps contract at least this many times per step (kMaxPredictContraction
// = 1/10) stops one step early when the error its next steps would remove is already within
// Newton's tolerance: with contraction theta (this step's largest update over the last one's),
// what is left after this update is about theta / (1 - theta) times it, and the residual about
// theta times the one before it (the simplified Newton stopping rule of Hairer & Wanner, Solving
// ODE II, IV.8). Newton's own test accepts an iterate whose error is far below the tolerance
// (the update that proved convergence is applied, and what remains is quadratically small);
// a chord step's remainder is theta times its update, so the last step Newton's test asks for
// only moves the answer by about theta tolerances. The 128 x 128 tiles of bench/nonlinear_batch
// contract 50-80-fold per step.
constexpr double kMaxPredictContraction = 0.1;
}  // namespace

void BatchedNewtonOptions::validate() const {
  if (max_chord_steps < 1)
    throw InputError("key max-chord-steps = " + std::to_string(max_chord_steps) + ": must be >= 1");
  if (block < 1) throw InputError("key newton-block = " + std::to_string(block) + ": must be >= 1");
}

BatchedNewton::BatchedNewton(NewtonSolver& newton, const BatchedNewtonOptions& options)
    : newton_(newton), options_(options) {
  options_.validate();
}

BatchedNewtonResult BatchedNewton::solve(const Eigen::MatrixXd& s) {
  const MnaSystem& mna = newton_.mna_;
  const NewtonOptions& no = newton_.options_;
  const int64_t n = mna.size(), k_all = s.cols();
  BatchedNewtonResult out;
  out.x.resize(n, k_all);
  out.iterations.assign(size_t(k_all), 0);
  out.strategy.assign(size_t(k_all), "chord");
  if (k_all == 0) return out;

  // 1. The reference, kept from the previous call while its factorization stands.
  double factorize_s = 0;
  if (!have_reference_) {
    s_ref_ = s.rowwise().mean();
    if (newton_reference_) {
      NewtonResult ref = newton_.solve(s_ref_);
      x_ref_ = std::move(ref.x);
      out.reference_iterations = ref.iterations;
      factorize_s += ref.factorize_s;
    } else {
      const double before = newton_.factorize_s_;
      x_ref_ = newton_.start(s_ref_);
      factorize_s += newton_.factorize_s_ - before;
    }
    have_reference_ = true;
  }
  if (newton_.factorizations_ != reference_factorization_) {
    const double before = newton_.factorize_s_;
    Eigen::VectorXd f;
    double scale = 0;
    newton_.factorize_at(x_ref_, s_ref_, 0.0, f, scale, true);
    factorize_s += newton_.factorize_s_ - before;
    reference_factorization_ = newton_.factorizations_;
  }

  // 2.-3. Chord steps, a block of inputs at a time.
  std::vector<int64_t> slow;  // inputs for the per-input Newton
  const SparseMatrix& a = mna.matrix();
  const bool symmetric = mna.symmetric();
  for (int64_t c0 = 0; c0 < k_all; c0 += options_.block) {
    const int64_t nb = std::min<int64_t>(options_.block, k_all - c0);
    const Eigen::MatrixXd rhs = mna.rhs(s.middleCols(c0, nb));
    Eigen::MatrixXd x = x_ref_.replicate(1, nb);
    std::vector<int64_t> active(static_cast<size_t>(nb));
    for (int64_t j = 0; j < nb; ++j) active[size_t(j)] = j;
    std::vector<double> last_residual(size_t(nb), 0.0), last_step(size_t(nb), 0.0);
    Eigen::MatrixXd f(n, nb);
    for (int step = 0; !active.empty(); ++step) {
      // Residuals of the active inputs, packed into the first columns of f.
      std::vector<double> scale(active.size()), residual(active.size());
      for (size_t q = 0; q < active.size(); ++q) {
        const int64_t j = active[q];
        auto fq = f.col(int64_t(q));  // written in place: no copies of x or f per input
        // A^T x where A is symmetric: a row-wise dot product instead of a scatter whose every
        // add waits on the previous store (as CircuitSolver::solve_linear's check).
        if (symmetric) fq.noalias() = a.transpose() * x.col(j);
        else fq.noalias() = a * x.col(j);
        fq -= rhs.col(j);
        scale[q] = mna.nonlinear_residual(x.col(j), s.col(c0 + j), fq, nullptr, nullptr);
        residual[q] = n ? fq.cwiseAbs().maxCoeff() : 0.0;
      }
      const Eigen::MatrixXd dx = -newton_.solve_jacobian_columns(f.leftCols(int64_t(active.size())));
      std::vector<int64_t> still;
      for (size_t q = 0; q < active.size(); ++q) {
        const int64_t j = active[q], k = c0 + j;
        ++out.iterations[size_t(k)];
        ++out.chord_steps;
        auto d = dx.col(int64_t(q));
        const double max_step = n ? d.cwiseAbs().maxCoeff() : 0.0;
        const double damp = max_step > no.max_step_v ? no.max_step_v / max_step : 1.0;
        const bool stalled = !d.allFinite() ||
                             (step > 0 && !(residual[q] * kMinChordContraction <= last_residual[size_t(j)]));
        if (stalled) {
          slow.push_back(k);
          out.x.col(k) = x.col(j);  // where the per-input Newton continues from
          continue;
        }
        bool done = newton_.converged(x.col(j), damp * d, max_step, residual[q], scale[q]);
        const double theta = step > 0 && last_step[size_t(j)] > 0 ? max_step / last_step[size_t(j)] : 1.0;
        x.col(j) += damp * d;
        if (!done && damp == 1.0 && theta <= kMaxPredictContraction) {
          // The remainder after this update, by the contraction: tested as Newton's next update.
          const double left = theta / (1 - theta);
          done = newton_.converged(x.col(j), left * d, left * max_step, theta * residual[q], scale[q]);
          if (done) ++out.predicted_stops;
        }
        if (done) {
          out.x.col(k) = x.col(j);
          out.residual_a = std::max(out.residual_a, residual[q]);
        } else if (step + 1 >= options_.max_chord_steps) {
          slow.push_back(k);
          out.x.col(k) = x.col(j);
        } else {
          last_residual[size_t(j)] = residual[q];
          last_step[size_t(j)] = max_step;
          still.push_back(j);
        }
      }
      active.swap(still);
    }
  }

  // 4. The slow inputs: the per-input Newton from the chord iterate, then from scratch.
  for (int64_t k : slow) {
    ++out.fallbacks;
    const Eigen::VectorXd sk = s.col(k);
    Eigen::VectorXd xs = out.x.col(k);
    int iterations = 0;
    double residual = 0;
    int64_t worst = 0;
    const double before = newton_.factorize_s_;
    bool ok = xs.allFinite() && newton_.run(xs, sk, 0.0, iterations, residual, worst);
    factorize_s += newton_.factorize_s_ - before;
    out.iterations[size_t(k)] += iterations;
    if (ok) {
      out.strategy[size_t(k)] = "newton";
    } else {
      NewtonResult r = newton_.solve(sk);  // throws when nothing converges
      out.iterations[size_t(k)] += r.iterations;
      factorize_s += r.factorize_s;
      out.strategy[size_t(k)] = r.strategy;
      residual = r.residual_a;
      xs = std::move(r.x);
    }
    out.x.col(k) = xs;
    out.residual_a = std::max(out.residual_a, residual);
  }
  // Most of the inputs far from the reference: the next call takes its own, converged.
  if (2 * out.fallbacks > k_all) have_reference_ = false, newton_reference_ = true;
  out.factorize_s = factorize_s;
  return out;
}

}  // namespace xbar::solvers
