#include "calib/effective.h"

#include <chrono>
#include <limits>
#include <memory>

#include "support/input_error.h"
#include "devices/linear_cell.h"
#include "netlists/crossbar_builder.h"
#include "solvers/available_memory.h"
#include "solvers/port_reduction.h"
#include "solvers/stopwatch.h"

namespace xbar::calib {

using solvers::BackendChoice;
using solvers::EffectiveMethod;
using solvers::internal::seconds_since;

namespace {

bool port_backend(const solvers::SolverOptions& o, EffectiveMethod method) {
  if (method == EffectiveMethod::kSolves) return false;
  if (method == EffectiveMethod::kPortReduction) {
    if (o.backend == BackendChoice::kNgspice)
      throw InputError("the effective matrix needs a native back end (backend = native, cholmod or klu)");
    return true;
  }
  return o.backend == BackendChoice::kAuto || o.backend == BackendChoice::kNative ||
         o.backend == BackendChoice::kCholmod;
}

// The old route: a factorization (or PCG) and min(M, N) solves.
Effective by_solves(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s, const solvers::SolverOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto x = netlists::build_crossbar(spec, g_s, std::make_shared<const devices::LinearCell>());
  solvers::CrossbarSolveOptions opt;
  opt.solver = options;
  opt.effective = EffectiveMethod::kSolves;
  // T is min(M, N) solves through one system: under backend auto, CHOLMOD where its factor
  // fits (solvers::effective_solver_options), not CG per right-hand side (512^2: 8 s vs ~90 s).
  opt.expected_inputs = std::numeric_limits<int64_t>::max();
  solvers::CrossbarSolver solver(x, opt);
  Effective e;
  e.t = solver.effective_matrix();
  e.summary = solver.summary();
  e.summary.effective_method = "solves";
  e.seconds = seconds_since(t0);
  return e;
}

Effective by_port(solvers::PortReduction& pr, const RowMatrixXd& g_s, const solvers::SolverOptions& options,
                  double setup_s) {
  const auto t0 = std::chrono::steady_clock::now();
  const solvers::PortReductionStats before = pr.stats();
  Effective e;
  e.t = pr.effective_matrix(g_s);
  const solvers::PortReductionStats& st = pr.stats();
  solvers::SolveSummary& s = e.summary;
  s.backend_requested = solvers::to_string(options.backend);
  s.backend_used = "cholmod";
  s.ordering_used = st.ordering_used;
  s.batch_method = "effective-matrix";
  s.effective_method = "port-reduction";
  s.unknowns = st.unknowns;
  s.factor_nonzeros = st.nnz_factor;
  s.factor_flops = st.flops;
  s.analyze_s = before.factorizations == 0 ? st.assemble_s + st.analyze_s : 0.0;
  s.factorize_s = st.factorize_s - before.factorize_s;
  s.solve_s = st.reduce_s - before.reduce_s;
  s.message = "effective matrix by port reduction: one CHOLMOD factorization of " + std::to_string(st.unknowns) +
              " nodes ordered " + st.ordering_used + " with the " + std::to_string(st.terminals) +
              " terminals last, then their dense algebra";
  s.ok = true;
  e.seconds = setup_s + seconds_since(t0);
  return e;
}

}  // namespace

Effective effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           const solvers::SolverOptions& options, EffectiveMethod method) {
  EffectiveEvaluator ev(spec, options, method);
  return ev(g_s);
}

EffectiveEvaluator::EffectiveEvaluator(const netlists::CrossbarSpec& spec, const solvers::SolverOptions& options,
                                       EffectiveMethod method)
    : spec_(spec), options_(options), method_(method) {
  spec_.validate();
}

EffectiveEvaluator::~EffectiveEvaluator() = default;

Effective EffectiveEvaluator::operator()(const RowMatrixXd& g_s) {
  double setup_s = 0;
  if (!decided_) {
    decided_ = true;
    if (port_backend(options_, method_)) {
      const auto t0 = std::chrono::steady_clock::now();
      solvers::PortReductionOptions po;
      po.ordering = options_.linear.ordering == solvers::Ordering::kAmd ? solvers::Ordering::kAmd
                                                                         : solvers::Ordering::kAuto;
      port_ = std::make_unique<solvers::PortReduction>(spec_, po);
      if (method_ == EffectiveMethod::kAuto &&
          port_->predicted_bytes() > solvers::kPortMemoryShare * solvers::available_memory_bytes())
        port_.reset();
      setup_s = seconds_since(t0);
    }
  }
  if (port_) return by_port(*port_, g_s, options_, setup_s);
  Effective e = by_solves(spec_, g_s, options_);
  solves_ += e.summary.linear_solves;
  return e;
}

}  // namespace xbar::calib
