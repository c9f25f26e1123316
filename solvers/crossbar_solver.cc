#include "solvers/crossbar_solver.h"

#include <chrono>
#include <cstdio>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "solvers/crossbar_operator.h"
#include "solvers/available_memory.h"
#include "solvers/line_system.h"
#include "solvers/pcg_backend.h"
#include "solvers/port_reduction.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

using Triplet = Eigen::Triplet<double, int64_t>;

std::string to_string(BatchMethod b) {
  switch (b) {
    case BatchMethod::kAuto: return "auto";
    case BatchMethod::kDirect: return "direct";
    case BatchMethod::kEffective: return "effective";
  }
  return "?";
}

BatchMethod parse_batch_method(const std::string& s) {
  for (BatchMethod b : {BatchMethod::kAuto, BatchMethod::kDirect, BatchMethod::kEffective})
    if (s == to_string(b)) return b;
  throw InputError("key batch-method = '" + s + "': expected auto, direct or effective");
}

std::string to_string(EffectiveMethod e) {
  switch (e) {
    case EffectiveMethod::kAuto: return "auto";
    case EffectiveMethod::kPortReduction: return "port-reduction";
    case EffectiveMethod::kSolves: return "solves";
  }
  return "?";
}

EffectiveMethod parse_effective_method(const std::string& s) {
  for (EffectiveMethod e : {EffectiveMethod::kAuto, EffectiveMethod::kPortReduction, EffectiveMethod::kSolves})
    if (s == to_string(e)) return e;
  throw InputError("key effective-method = '" + s + "': expected auto, port-reduction or solves");
}


SolverOptions effective_solver_options(int64_t rows, int64_t cols, bool linear, const CrossbarSolveOptions& o) {
  SolverOptions s = o.solver;
  if (s.backend != BackendChoice::kAuto || o.keep_voltages || o.batch == BatchMethod::kDirect) return s;
  if (o.batch == BatchMethod::kAuto && o.expected_inputs <= std::min(rows, cols)) return s;
  if (2 * rows * cols > kAutoEffectiveCholmodMaxUnknowns) return s;
  if (linear) s.backend = BackendChoice::kNative;
  return s;
}

SolverOptions effective_solver_options(const netlists::CrossbarCircuit& x, const CrossbarSolveOptions& o) {
  bool linear = x.circuit.transistor_models().empty();
  for (const auto& c : x.circuit.cell_models()) linear = linear && c->is_linear();
  return effective_solver_options(x.rows(), x.cols(), linear, o);
}

// The grid path's direct variant: the system CrossbarOperator writes from the spec, assembled
// over its free slots (LineSystem::matrix(), as PCG's CHOLMOD fallback does) and factorized by
// Eigen's LDL' in the grid's nested-dissection ordering. It skips the netlist Circuit and the
// MNA assembly of the circuit path (0.2 ms instead of ~2 ms at 64^2, a tenth of a whole
// `xbar solve`; issue 21, point 5) and gives the same currents to rounding
// (tests/solvers/pcg_backend_test.cc).
struct CrossbarSolver::GridDirect {
  LineSystem lines;
  SparseMatrix a;
  std::vector<int64_t> slots;  // grid slot of each unknown
  std::unique_ptr<LinearBackend> backend;
  double norm_a = 0;           // infinity norm of a, for the backward error
  std::function<std::string(int64_t)> unknown_name;  // for failure messages
  GridDirect(int64_t m, int64_t n) : lines(m, n) {}
};

CrossbarSolver::~CrossbarSolver() = default;

bool CrossbarSolver::try_grid_direct(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, const SolverOptions& s) {
  const int64_t unknowns = CrossbarOperator::count_unknowns(spec);
  const Ordering ord = s.linear.ordering;  // the grid's own ordering: nested dissection
  if (!eigen_factorizes(s.backend, unknowns, ord) || (ord != Ordering::kAuto && ord != Ordering::kGeometric))
    return false;
  if (s.backend == BackendChoice::kAuto && unknowns >= kAutoPcgMinUnknowns) return false;  // PCG's
  const auto t0 = std::chrono::steady_clock::now();
  op_ = std::make_unique<CrossbarOperator>(spec, g);
  direct_ = std::make_unique<GridDirect>(spec.rows, spec.cols);
  GridDirect& d = *direct_;
  d.lines.set_stencil(op_->take_stencil());
  d.a = d.lines.matrix();
  d.slots = d.lines.slots();
  std::vector<GridCoord> coords = d.lines.coords();
  d.norm_a = infinity_norm(d.a);
  if (options_.effective != EffectiveMethod::kSolves) {  // T by the port reduction, as the circuit path
    grid_spec_ = spec;
    grid_g_ = g;
  }
  SolveSummary& sm = grid_summary_;
  sm = {};
  sm.backend_requested = to_string(options_.solver.backend);
  sm.unknowns = int64_t(d.slots.size());
  sm.matrix_nonzeros = d.a.nonZeros();
  sm.assemble_s = seconds_since(t0);
  d.backend = make_linear_backend(LinearBackendKind::kEigen, s.linear);
  d.unknown_name = [&d](int64_t k) {  // k: an unknown, as LineSystem numbers them
    const GridCoord c = d.lines.coord(k);  // named as the circuit path names it
    return std::string("node ") + (c.layer == 0 ? "r" : "c") + std::to_string(c.i) + "_" + std::to_string(c.j);
  };
  d.backend->set_unknown_names(d.unknown_name);
  d.backend->analyze(d.a, coords);
  d.backend->factorize(d.a);
  const FactorStats& st = d.backend->stats();
  sm.backend_used = d.backend->name();
  sm.ordering_used = st.ordering_used;
  sm.analyze_s = st.analyze_s;
  sm.factorize_s = st.factorize_s;
  sm.factor_nonzeros = st.nnz_factor;
  sm.factor_flops = st.flops;
  sm.message = d.backend->name() + " factorization of " + std::to_string(sm.unknowns) +
               " unknowns, the crossbar's system written from its spec (no circuit assembled)";
  sm.ok = true;
  grid_message_ = sm.message;
  if (options_.solver.progress)
    options_.solver.progress(sm.message + ": assembled in " + format_3g(sm.assemble_s) + " s, factorized in " +
                             format_3g(sm.factorize_s) + " s");
  return true;
}

void CrossbarSolver::grid_solve(int64_t k, const std::function<void(int64_t, double*)>& rhs,
                                const std::function<void(int64_t, const double*)>& use) {
  if (pcg_) {
    pcg_->solve_grid(k, rhs, use);
    return;
  }
  // Direct: blocks of right-hand sides gathered over the unknowns, solved, checked as every
  // native solve is (check_solution) and scattered back to the grid's slots.
  GridDirect& d = *direct_;
  const int64_t slots = 2 * op_->rows() * op_->cols(), nu = int64_t(d.slots.size());
  constexpr int64_t kBlock = 64;
  Eigen::VectorXd grid(slots);
  for (int64_t c0 = 0; c0 < k; c0 += kBlock) {
    const int64_t nc = std::min(kBlock, k - c0);
    Eigen::MatrixXd b(nu, nc);
    for (int64_t c = 0; c < nc; ++c) {
      rhs(c0 + c, grid.data());
      for (int64_t u = 0; u < nu; ++u) b(u, c) = grid[d.slots[size_t(u)]];
    }
    const Eigen::MatrixXd x = d.backend->solve(b);
    check_solution(d.a, d.norm_a, true, false, x, b, true, d.backend->name(), d.unknown_name,
                   &grid_summary_.max_backward_error);
    for (int64_t c = 0; c < nc; ++c) {
      grid.setZero();
      for (int64_t u = 0; u < nu; ++u) grid[d.slots[size_t(u)]] = x(u, c);
      use(c0 + c, grid.data());
    }
  }
}

bool CrossbarSolver::try_grid(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, bool linear_cell,
                              const devices::CellModel* cell) {
  const SolverOptions s = effective_solver_options(spec.rows, spec.cols, linear_cell, options_);
  if (!options_.grid_operator || options_.keep_voltages) return false;
  if (cell && !CrossbarOperator::applicable(spec, *cell, nullptr)) return false;
  if (try_grid_direct(spec, g, s)) return true;
  if (s.backend != BackendChoice::kPcg && s.backend != BackendChoice::kAuto) return false;
  // Backend auto: PCG from the measured crossover on (circuit_solver.h), as the circuit path.
  if (s.backend == BackendChoice::kAuto && CrossbarOperator::count_unknowns(spec) < kAutoPcgMinUnknowns)
    return false;
  const auto t0 = std::chrono::steady_clock::now();
  pcg_ = std::make_unique<PcgBackend>(options_.solver.linear);
  op_ = std::make_unique<CrossbarOperator>(spec, g, pcg_->pool());
  if (options_.effective != EffectiveMethod::kSolves && options_.solver.backend == BackendChoice::kAuto) {
    grid_spec_ = spec;
    grid_g_ = g;
  }
  SolveSummary& sm = grid_summary_;
  sm = {};
  sm.backend_requested = to_string(options_.solver.backend);
  sm.unknowns = op_->unknowns();
  sm.matrix_nonzeros = op_->matrix_nonzeros();
  sm.assemble_s = seconds_since(t0);
  auto say = [&](const std::string& msg) {
    if (options_.solver.progress) options_.solver.progress(msg);
  };
  say("wrote the " + std::to_string(sm.unknowns) + "-unknown line operator straight from the spec in " +
      format_3g(sm.assemble_s) + " s");
  pcg_->set_stencil(op_->take_stencil());
  const auto& c = op_->current_map_x();
  pcg_->set_watch_slots(c.ptr, c.index, c.coef, "column currents");
  sm.backend_used = "pcg";
  sm.ordering_used = "lines";
  sm.factorize_s = pcg_->stats().factorize_s;
  say("pcg line factors and coarse grid (" + std::to_string(pcg_->pcg_stats().coarse_unknowns) +
      " unknowns) in " + format_3g(sm.factorize_s) + " s");
  sm.message = "pcg on the crossbar's line operator written from its spec (no circuit assembled), " +
               std::to_string(sm.unknowns) + " unknowns, coarse grid " +
               std::to_string(pcg_->pcg_stats().coarse_unknowns) + " unknowns";
  sm.ok = true;
  grid_message_ = sm.message;
  sync_grid_summary();
  return true;
}

CrossbarSolver::CrossbarSolver(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                               std::shared_ptr<const devices::CellModel> cell,
                               const CrossbarSolveOptions& options)
    : options_(options) {
  spec.validate();
  if (try_grid(spec, g_s, cell->is_linear() && !cell->access_transistor(), cell.get())) return;
  const auto t0 = std::chrono::steady_clock::now();
  owned_ = std::make_unique<netlists::CrossbarCircuit>(netlists::build_crossbar(spec, g_s, std::move(cell)));
  circuit_build_s_ = seconds_since(t0);
  x_ = owned_.get();
  init_circuit();
}

CrossbarSolver::CrossbarSolver(const netlists::CrossbarCircuit& crossbar,
                               const CrossbarSolveOptions& options)
    : x_(&crossbar), options_(options) {
  const SolverOptions s = effective_solver_options(crossbar, options);
  const bool pcg_possible = s.backend == BackendChoice::kPcg || s.backend == BackendChoice::kAuto;
  RowMatrixXd g;
  if (pcg_possible && options.grid_operator && !options.keep_voltages &&
      (s.backend == BackendChoice::kPcg || CrossbarOperator::count_unknowns(crossbar.spec) >= kAutoPcgMinUnknowns) &&
      CrossbarOperator::matches_circuit(crossbar, &g, nullptr) && try_grid(crossbar.spec, g, true, nullptr))
    return;
  init_circuit();
}

const SolveSummary& CrossbarSolver::summary() const {
  if (op_) return grid_summary_;
  merged_summary_ = summary_with_port();
  return merged_summary_;
}

SolveSummary CrossbarSolver::summary_with_port() const {
  SolveSummary s = circuit_solver_->summary();
  if (port_used_) {
    s.analyze_s += port_summary_.analyze_s;
    s.factorize_s += port_summary_.factorize_s;
    s.solve_s += port_summary_.solve_s;
    s.effective_method = "port-reduction";
    s.message += port_note_;
  } else {
    s.effective_method = "solves";
  }
  return s;
}

const CircuitSolver& CrossbarSolver::circuit_solver() const {
  XBAR_EXPECTS(circuit_solver_, "CrossbarSolver::circuit_solver(): the array is solved from its spec (from_spec())");
  return *circuit_solver_;
}

void CrossbarSolver::sync_grid_summary() {
  if (pcg_) add_pcg_stats(*pcg_, grid_summary_);
}

CrossbarSolution CrossbarSolver::solve_grid(const RowMatrixXd& v) {
  CrossbarSolution r;
  const int64_t k = v.rows(), n = op_->cols();
  const bool effective = options_.batch == BatchMethod::kEffective ||
                         (options_.batch == BatchMethod::kAuto && k > std::min(op_->rows(), op_->cols()));
  if (effective) {
    const RowMatrixXd t = effective_matrix_grid();
    const auto t0 = std::chrono::steady_clock::now();
    r.currents = v * t;
    grid_summary_.solve_s += seconds_since(t0);
    grid_summary_.inputs += k;
    r.summary = grid_summary_;
    r.summary.batch_method = "effective-matrix";
    return r;
  }
  const auto t0 = std::chrono::steady_clock::now();
  r.currents.resize(k, n);
  grid_solve(
      k, [&](int64_t c, double* b) { op_->rhs(v.row(c).data(), b); },
      [&](int64_t c, const double* x) { op_->currents(x, v.row(c).data(), &r.currents(c, 0)); });
  grid_summary_.solve_s += seconds_since(t0);
  grid_summary_.inputs += k;
  grid_summary_.linear_solves += k;
  sync_grid_summary();
  r.summary = grid_summary_;
  r.summary.batch_method = "direct";
  return r;
}

RowMatrixXd CrossbarSolver::port_effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g,
                                                  bool required, SolveSummary& sm) {
  const auto t0 = std::chrono::steady_clock::now();
  PortReduction pr(spec);
  if (!required && pr.predicted_bytes() > kPortMemoryShare * available_memory_bytes()) return {};
  RowMatrixXd t = pr.effective_matrix(g);
  const PortReductionStats& st = pr.stats();
  sm.analyze_s += st.assemble_s + st.analyze_s;
  sm.factorize_s += st.factorize_s;
  sm.solve_s += st.reduce_s;
  sm.effective_method = "port-reduction";
  port_note_ = "; effective matrix by port reduction (" + std::to_string(st.terminals) + " terminals, " +
               st.ordering_used + ", factor " + format_3g(st.nnz_factor) + " nonzeros, " +
               format_3g(seconds_since(t0)) + " s)";
  return t;
}

RowMatrixXd CrossbarSolver::effective_matrix_grid() {
  if (grid_g_.size() > 0) {  // backend auto: the port reduction when its factor fits
    RowMatrixXd t = port_effective_matrix(grid_spec_, grid_g_, false, grid_summary_);
    if (t.size() > 0) {
      grid_summary_.message = grid_message_ + port_note_;
      return t;
    }
  }
  grid_summary_.effective_method = "solves";
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t m = op_->rows(), n = op_->cols(), mn = m * n;
  const auto& bm = op_->rhs_map();
  const auto& cm = op_->current_map_x();
  const auto& dm = op_->current_map_v();
  RowMatrixXd t = RowMatrixXd::Zero(m, n);
  for (int64_t j = 0; j < n; ++j)  // D: the input-to-current part that bypasses the unknowns
    for (int64_t e = dm.ptr[size_t(j)]; e < dm.ptr[size_t(j) + 1]; ++e) t(dm.index[size_t(e)], j) += dm.coef[size_t(e)];
  auto unit = [&](const CrossbarOperator::Lists& l, int64_t c, double* b) {
    std::fill(b, b + 2 * mn, 0.0);
    for (int64_t e = l.ptr[size_t(c)]; e < l.ptr[size_t(c) + 1]; ++e) b[l.index[size_t(e)]] += l.coef[size_t(e)];
  };
  if (m <= n) {  // forward: x_r = A^-1 B e_r, row r of T = C x_r (+ D)
    std::vector<double> zero(size_t(m), 0.0);
    grid_solve(
        m, [&](int64_t r, double* b) { unit(bm, r, b); },
        [&](int64_t r, const double* x) {
          for (int64_t j = 0; j < n; ++j) {
            double s = 0;
            for (int64_t e = cm.ptr[size_t(j)]; e < cm.ptr[size_t(j) + 1]; ++e) s += cm.coef[size_t(e)] * x[cm.index[size_t(e)]];
            t(r, j) += s;
          }
        });
  } else {  // adjoint: y_j = A^-1 C^T e_j, column j of T = B^T y_j (+ D); watched: T's entries
    if (pcg_) pcg_->set_watch_slots(bm.ptr, bm.index, bm.coef, "effective-matrix entries");
    grid_solve(
        n, [&](int64_t j, double* b) { unit(cm, j, b); },
        [&](int64_t j, const double* y) {
          for (int64_t r = 0; r < m; ++r) {
            double s = 0;
            for (int64_t e = bm.ptr[size_t(r)]; e < bm.ptr[size_t(r) + 1]; ++e) s += bm.coef[size_t(e)] * y[bm.index[size_t(e)]];
            t(r, j) += s;
          }
        });
    if (pcg_) pcg_->set_watch_slots(cm.ptr, cm.index, cm.coef, "column currents");
  }
  grid_summary_.solve_s += seconds_since(t0);
  grid_summary_.linear_solves += std::min(m, n);
  sync_grid_summary();
  return t;
}

void CrossbarSolver::init_circuit() {
  const netlists::CrossbarCircuit& crossbar = *x_;
  circuit_solver_ = std::make_unique<CircuitSolver>(crossbar.circuit, effective_solver_options(crossbar, options_));
  const int64_t n_cols = crossbar.cols(), n_src = int64_t(crossbar.source_row.size());
  // Column j's current is the sum of its virtual-ground source currents.
  SparseMatrix pick(n_cols, n_src);
  std::vector<Triplet> t;
  for (int64_t j = 0; j < n_cols; ++j)
    for (int32_t pos : crossbar.sense_sources[size_t(j)])
      if (pos >= 0) t.emplace_back(j, pos, 1.0);
  pick.setFromTriplets(t.begin(), t.end());
  t.clear();
  for (int64_t k = 0; k < n_src; ++k)
    if (crossbar.source_row[size_t(k)] >= 0) t.emplace_back(k, crossbar.source_row[size_t(k)], 1.0);
  p_.resize(n_src, crossbar.rows());
  p_.setFromTriplets(t.begin(), t.end());
  s_fixed_ = crossbar.fixed_source_values();
  if (circuit_solver_->native()) {
    w_x_ = pick * circuit_solver_->mna().current_map_x();
    w_s_ = pick * circuit_solver_->mna().current_map_s();
    // PCG stops on the accuracy of what is reported: the column currents.
    circuit_solver_->set_watch(w_x_, "column currents");
  }
}

RowMatrixXd CrossbarSolver::currents_from(const Eigen::MatrixXd& src) const {
  RowMatrixXd i(src.cols(), x_->cols());
  for (int64_t j = 0; j < x_->cols(); ++j) {
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(src.cols());
    for (int32_t pos : x_->sense_sources[size_t(j)])
      if (pos >= 0) sum += src.row(pos).transpose();
    i.col(j) = sum;
  }
  return i;
}

CrossbarSolution CrossbarSolver::solve(const RowMatrixXd& v) {
  const int64_t rows = op_ ? op_->rows() : x_->rows();
  if (v.cols() != rows)
    throw InputError("input has " + std::to_string(v.cols()) + " voltages per vector, expected rows = " +
                     std::to_string(rows));
  if (op_) return solve_grid(v);
  CircuitSolver& cs = *circuit_solver_;
  const netlists::CrossbarCircuit& x = *x_;
  CrossbarSolution r;
  const int64_t k = v.rows();
  const bool native = cs.native();
  const bool effective =
      native && !cs.nonlinear() && !options_.keep_voltages &&
      (options_.batch == BatchMethod::kEffective ||
       (options_.batch == BatchMethod::kAuto && k > std::min(x.rows(), x.cols())));
  if (effective) {
    const RowMatrixXd t = effective_matrix();
    const auto t0 = std::chrono::steady_clock::now();
    r.currents = v * t;
    r.summary = summary();
    r.summary.solve_s += seconds_since(t0);
    r.summary.inputs = k;
    r.summary.batch_method = "effective-matrix";
    return r;
  }
  // S x K: the row voltages plus the fixed sources (gate lines of 1T1R cells).
  const Eigen::MatrixXd s = p_ * Eigen::MatrixXd(v.transpose()) + s_fixed_.replicate(1, k);
  r.currents.resize(k, x.cols());
  if (options_.keep_voltages) {
    r.voltages.resize(k, 2 * x.rows() * x.cols());
    r.all_node_voltages.resize(x.circuit.num_nodes(), k);
    r.all_source_currents.resize(s.rows(), k);
  }
  // Direct: in blocks so that the node voltages of a large batch never all live at once.
  const int64_t block = native ? std::max(1, options_.solver.linear.rhs_block) : std::max<int64_t>(k, 1);
  for (int64_t c0 = 0; c0 < k; c0 += block) {
    const int64_t nc = std::min(block, k - c0);
    CircuitSolution sol = cs.solve(s.middleCols(c0, nc));
    r.currents.middleRows(c0, nc) = currents_from(sol.source_currents);
    if (options_.keep_regions) append_regions(r.regions, cell_regions(x.circuit, sol.node_voltages));
    if (options_.keep_voltages) {
      r.voltages.middleRows(c0, nc) =
          sol.node_voltages.topRows(2 * x.rows() * x.cols()).transpose();
      r.all_node_voltages.middleCols(c0, nc) = sol.node_voltages;
      r.all_source_currents.middleCols(c0, nc) = sol.source_currents;
    }
  }
  r.summary = cs.summary();
  r.summary.batch_method = "direct";
  return r;
}

RowMatrixXd CrossbarSolver::effective_matrix() {
  if (op_) {
    if (options_.effective == EffectiveMethod::kPortReduction && grid_g_.size() == 0)
      throw InputError("key effective-method = port-reduction: backend " + to_string(options_.solver.backend) +
                       " solves this array by PCG; use backend auto or cholmod");
    return effective_matrix_grid();
  }
  CircuitSolver& cs = *circuit_solver_;
  const netlists::CrossbarCircuit& x = *x_;
  if (!cs.native())
    throw InputError("the effective matrix needs a native back end (backend = native, cholmod or klu)");
  if (cs.nonlinear())
    throw InputError("the effective matrix exists only for linear cells: with a nonlinear cell "
                     "the currents are not linear in the inputs (use batch-method = direct)");
  // The port reduction: on request, or under auto when the solver factors an SPD system
  // directly (CHOLMOD, or Eigen for small arrays; the port reduction itself uses CHOLMOD).
  if (options_.effective != EffectiveMethod::kSolves) {
    const bool direct_spd = cs.summary().backend_used == "cholmod" || cs.summary().backend_used == "eigen";
    RowMatrixXd g;
    std::string why;
    const bool canonical = CrossbarOperator::matches_circuit(x, &g, &why);
    if (options_.effective == EffectiveMethod::kPortReduction && !canonical)
      throw InputError("key effective-method = port-reduction: " + why);
    if (canonical && (direct_spd || options_.effective == EffectiveMethod::kPortReduction)) {
      port_summary_ = {};
      RowMatrixXd t = port_effective_matrix(x.spec, g, true, port_summary_);
      port_used_ = true;
      return t;
    }
  }
  port_used_ = false;
  const auto t0 = std::chrono::steady_clock::now();
  const MnaSystem& mna = cs.mna();
  const LinearBackend* be = cs.backend();
  const int64_t m = x.rows(), n = x.cols();
  const SparseMatrix rp = mna.rhs_map() * p_;  // n_unknowns x M: right-hand side per row voltage
  Eigen::MatrixXd tt(n, m);                     // T^T, N x M
  tt = Eigen::MatrixXd(w_s_ * p_);
  const int64_t block = std::max(1, options_.solver.linear.rhs_block);
  int64_t solves = 0;
  if (!be) {
    // no unknowns: T = W_s P already
  } else if (m <= n) {
    for (int64_t c0 = 0; c0 < m; c0 += block) {  // X = A^-1 (R P), T^T += W X
      const int64_t nc = std::min(block, m - c0);
      const Eigen::MatrixXd x = cs.solve_linear(Eigen::MatrixXd(rp.middleCols(c0, nc)));
      tt.middleCols(c0, nc) += w_x_ * x;
      solves += nc;
    }
  } else {
    const SparseMatrix wt = w_x_.transpose();
    // The adjoint solves' reported quantities are the entries of T: (R P)^T y.
    cs.set_watch(SparseMatrix(rp.transpose()), "effective-matrix entries");
    for (int64_t c0 = 0; c0 < n; c0 += block) {  // Y = A^-T W^T, T^T += Y^T (R P)
      const int64_t nc = std::min(block, n - c0);
      const Eigen::MatrixXd y = cs.solve_linear(Eigen::MatrixXd(wt.middleCols(c0, nc)), true);
      tt.middleRows(c0, nc) += (Eigen::MatrixXd(rp.transpose() * y)).transpose();
      solves += nc;
    }
    cs.set_watch(w_x_, "column currents");
  }
  cs.add_solve_cost(seconds_since(t0), solves);
  return tt.transpose();
}

}  // namespace xbar::solvers
