#include "solvers/circuit_solver.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/eigen_backend.h"
#include "solvers/library_threads.h"
#include "solvers/line_system.h"
#include "solvers/pcg_backend.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;


std::string to_string(BackendChoice b) {
  switch (b) {
    case BackendChoice::kAuto: return "auto";
    case BackendChoice::kNative: return "native";
    case BackendChoice::kCholmod: return "cholmod";
    case BackendChoice::kEigen: return "eigen";
    case BackendChoice::kKlu: return "klu";
    case BackendChoice::kPcg: return "pcg";
    case BackendChoice::kNgspice: return "ngspice";
  }
  return "?";
}

BackendChoice parse_backend(const std::string& s) {
  for (BackendChoice b : {BackendChoice::kAuto, BackendChoice::kNative, BackendChoice::kCholmod,
                          BackendChoice::kEigen, BackendChoice::kKlu, BackendChoice::kPcg,
                          BackendChoice::kNgspice})
    if (s == to_string(b)) return b;
  throw InputError("key backend = '" + s + "': expected auto, native, cholmod, eigen, klu, pcg or ngspice");
}

bool eigen_factorizes(BackendChoice asked, int64_t unknowns, Ordering ordering) {
  if (asked == BackendChoice::kEigen) return true;
  return (asked == BackendChoice::kAuto || asked == BackendChoice::kNative) && unknowns <= kEigenMaxUnknowns &&
         ordering != Ordering::kMetis && ordering != Ordering::kNesdis;
}

LinearBackendKind CircuitSolver::choose_kind() {
  const BackendChoice asked = options_.backend;
  if (asked == BackendChoice::kKlu) return LinearBackendKind::kKlu;
  if (!mna_->spd()) {
    if (asked == BackendChoice::kCholmod || asked == BackendChoice::kEigen || asked == BackendChoice::kPcg)
      summary_.message =
          to_string(asked) + " requested but the system has " +
          (mna_->symmetric() ? std::to_string(mna_->num_branches()) +
                                   " floating voltage-source branch(es), so it is not SPD"
                             : std::to_string(mna_->num_transistors()) +
                                   " transistor(s), so its Jacobian is not symmetric") +
          ": used klu; ";
    return LinearBackendKind::kKlu;
  }
  if (asked == BackendChoice::kPcg || (asked == BackendChoice::kAuto && mna_->size() >= kAutoPcgMinUnknowns)) {
    std::string why;
    if (LineSystem::applicable(mna_->matrix(), mna_->grid_coords(), &why)) return LinearBackendKind::kPcg;
    if (asked == BackendChoice::kPcg)
      summary_.message = "pcg requested but its line preconditioner does not apply (" + why + "): used cholmod; ";
  }
  // Small SPD systems: Eigen's simplicial LDL', faster than CHOLMOD there and without loading
  // CHOLMOD and OpenBLAS (eigen_backend.h).
  if (eigen_factorizes(asked, mna_->size(), options_.linear.ordering)) return LinearBackendKind::kEigen;
  return LinearBackendKind::kCholmod;
}

CircuitSolver::CircuitSolver(const netlists::Circuit& circuit, const SolverOptions& options)
    : circuit_(circuit), options_(options) {
  summary_.backend_requested = to_string(options.backend);
  if (options.backend == BackendChoice::kNgspice) {
    summary_.backend_used = "ngspice";
    summary_.ok = true;
    return;
  }
  auto t0 = std::chrono::steady_clock::now();
  mna_ = std::make_unique<MnaSystem>(circuit);
  summary_.assemble_s = seconds_since(t0);
  summary_.unknowns = mna_->size();
  summary_.matrix_nonzeros = mna_->matrix().nonZeros();
  auto say = [&](const std::string& msg) {
    if (options.progress) options.progress(msg);
  };
  say("assembled " + std::to_string(mna_->size()) + " unknowns, " +
      std::to_string(summary_.matrix_nonzeros) + " nonzeros in " + format_3g(summary_.assemble_s) + " s");

  if (mna_->size() == 0) {  // every node fixed by sources and shorts: nothing to factor
    summary_.backend_used = "none";
    summary_.message = "no unknowns: every node is fixed by sources and zero-ohm wires";
    summary_.ok = true;
    return;
  }
  const LinearBackendKind kind = choose_kind();
  LinearBackendOptions lopt = options.linear;
  // Falling back to KLU (not asked for by name) drops a CHOLMOD-only ordering request (METIS);
  // an explicit `backend = klu` with such an ordering is left for KluBackend to reject.
  if (kind == LinearBackendKind::kKlu && options.backend != BackendChoice::kKlu &&
      lopt.ordering != Ordering::kAmd && lopt.ordering != Ordering::kGeometric)
    lopt.ordering = Ordering::kAuto;
  backend_ = make_linear_backend(kind, lopt);
  const MnaSystem* mna = mna_.get();
  backend_->set_unknown_names([mna](int64_t k) { return mna->unknown_name(k); });
  if (!mna_->linear()) {
    // Nonlinear cells: Newton analyzes the backend on its Jacobian's pattern (internal cell
    // nodes condensed, newton.h); the analysis serves every iteration, which factorizes.
    newton_ = std::make_unique<NewtonSolver>(*mna_, *backend_, options.newton);
    say(backend_->name() + " analyze (" + backend_->stats().ordering_used + " ordering) " +
        format_3g(backend_->stats().analyze_s) + " s");
    summary_.backend_used = backend_->name();
    summary_.ordering_used = backend_->stats().ordering_used;
    summary_.analyze_s = backend_->stats().analyze_s;
    summary_.message += "Newton on " + std::to_string(mna_->num_nonlinear()) +
                        (mna_->num_transistors() ? " nonlinear elements (" +
                                                       std::to_string(mna_->num_transistors()) +
                                                       " transistors)"
                                                 : std::string(" nonlinear cells")) +
                        " with " + backend_->name();
    summary_.ok = true;
    return;
  }
  backend_->analyze(mna_->matrix(), mna_->grid_coords());
  say(backend_->name() + " analyze (" + backend_->stats().ordering_used + " ordering) " +
      format_3g(backend_->stats().analyze_s) + " s");
  backend_->factorize(mna_->matrix());
  const FactorStats& st = backend_->stats();
  say(backend_->name() + " factorize " + format_3g(st.factorize_s) + " s, " +
      std::to_string(int64_t(st.nnz_factor)) + " nonzeros in the factor");
  summary_.backend_used = backend_->name();
  summary_.ordering_used = st.ordering_used;
  summary_.analyze_s = st.analyze_s;
  summary_.factorize_s = st.factorize_s;
  summary_.factor_nonzeros = st.nnz_factor;
  summary_.factor_flops = st.flops;
  summary_.message += backend_->name() + (kind == LinearBackendKind::kPcg ? " line preconditioner for " : " factorization of ") +
                      std::to_string(mna_->size()) + " unknowns ready";
  summary_.ok = true;
}

void CircuitSolver::set_watch(const SparseMatrix& w, const std::string& what) {
  if (auto* pcg = dynamic_cast<PcgBackend*>(backend_.get())) pcg->set_watch(w, what);
}

void CircuitSolver::sync_pcg_stats() {
  if (const auto* pcg = dynamic_cast<const PcgBackend*>(backend_.get())) add_pcg_stats(*pcg, summary_);
}

Eigen::MatrixXd CircuitSolver::solve_linear(const Eigen::MatrixXd& b, bool transposed) {
  Eigen::MatrixXd x = transposed ? backend_->solve_transposed(b) : backend_->solve(b);
  sync_pcg_stats();
  const bool iterative = backend_->name() == "pcg";
  if (norm_a_ == 0) norm_a_ = infinity_norm(mna_->matrix());
  // A^T x serves the residual where A is symmetric (MnaSystem::symmetric(): every stamp but a
  // transistor's is). An iterative solve stops at its own tolerance (reported as cg_residual),
  // which the user may set loose; the check is for a direct factorization that broke down.
  const MnaSystem* mna = mna_.get();
  check_solution(mna->matrix(), norm_a_, mna->symmetric(), transposed, x, b, !iterative, backend_->name(),
                 [mna](int64_t k) { return mna->unknown_name(k); }, &summary_.max_backward_error);
  return x;
}

CircuitSolution CircuitSolver::solve_nonlinear(const Eigen::MatrixXd& s) {
  const auto t0 = std::chrono::steady_clock::now();
  Eigen::MatrixXd x(mna_->size(), s.cols());
  CircuitSolution sol;
  sol.source_currents.resize(s.rows(), s.cols());
  static const char* const kOrder[] = {"newton", "gmin stepping", "source stepping"};
  auto rank = [](const std::string& st) {
    for (int k = 0; k < 3; ++k)
      if (st == kOrder[k]) return k;
    return -1;
  };
  // Direct back ends only: a chord step costs one substitution per input there, against a
  // factorization per Newton iteration; PCG pays a whole CG solve per chord step, as much as
  // per Newton iteration, and would only take more steps.
  const bool batch = newton_ && options_.newton.batch && s.cols() >= kMinBatchedInputs && backend_->name() != "pcg";
  BatchedNewtonResult b;
  if (batch) {
    if (!batched_) batched_ = std::make_unique<BatchedNewton>(*newton_);
    b = batched_->solve(s);
    summary_.newton_batched_inputs += s.cols();
    summary_.newton_chord_steps += b.chord_steps;
    summary_.newton_fallbacks += b.fallbacks;
    summary_.newton_iterations += b.reference_iterations;
    summary_.factorize_s += b.factorize_s;
  }
  for (Eigen::Index k = 0; k < s.cols(); ++k) {
    const Eigen::VectorXd sk = s.col(k);
    NewtonResult r;  // no unknowns (every node fixed): the cells' currents follow directly
    if (batch) {
      r.x = b.x.col(k);
      r.iterations = b.iterations[size_t(k)];
      r.strategy = b.strategy[size_t(k)] == "chord" ? "newton" : b.strategy[size_t(k)];
      r.residual_a = b.residual_a;
    } else if (newton_) {
      r = newton_->solve(sk);
    } else {
      r.x = Eigen::VectorXd::Zero(0);
    }
    x.col(k) = r.x;
    Eigen::VectorXd cur = mna_->current_map_x() * r.x + mna_->current_map_s() * sk;
    Eigen::VectorXd f = Eigen::VectorXd::Zero(mna_->size());
    mna_->nonlinear_residual(r.x, sk, f, nullptr, &cur);
    sol.source_currents.col(k) = cur;
    summary_.newton_iterations += r.iterations;
    summary_.newton_max_iterations = std::max<int64_t>(summary_.newton_max_iterations, r.iterations);
    summary_.newton_residual_a = std::max(summary_.newton_residual_a, r.residual_a);
    if (rank(r.strategy) > rank(summary_.newton_strategy)) summary_.newton_strategy = r.strategy;
    summary_.factorize_s += r.factorize_s;
  }
  sol.node_voltages = mna_->node_voltages(x, s);
  summary_.solve_s += seconds_since(t0);
  summary_.inputs += s.cols();
  summary_.linear_solves += summary_.newton_iterations;
  if (backend_) summary_.factor_nonzeros = backend_->stats().nnz_factor;
  sync_pcg_stats();
  return sol;
}

CircuitSolution CircuitSolver::solve(const Eigen::MatrixXd& s) {
  CircuitSolution sol;
  auto t0 = std::chrono::steady_clock::now();
  if (!mna_) {
    NgspiceBackend ng(options_.ngspice);
    NgspiceSolution r = ng.solve(circuit_, s);
    sol.node_voltages = std::move(r.node_voltages);
    sol.source_currents = std::move(r.source_currents);
    summary_.assemble_s += r.load_s;
    summary_.solve_s += r.solve_s + r.read_s;
  } else {
    if (!mna_->linear()) return solve_nonlinear(s);
    const Eigen::MatrixXd x = backend_ ? solve_linear(mna_->rhs(s)) : Eigen::MatrixXd(0, s.cols());
    sol.node_voltages = mna_->node_voltages(x, s);
    sol.source_currents = mna_->source_currents(x, s);
    summary_.solve_s += seconds_since(t0);
    summary_.linear_solves += s.cols();
  }
  summary_.inputs += s.cols();
  return sol;
}

}  // namespace xbar::solvers
