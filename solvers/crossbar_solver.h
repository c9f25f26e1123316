// CrossbarSolver: row voltages in, column currents (and optionally every node voltage) out.
//
//   solvers::CrossbarSolver xs(crossbar, options);     // assemble + analyze + factorize once
//   solvers::CrossbarSolver xs(spec, g, cell, options); // or from the spec: no circuit built
//                                                      // when the PCG grid operator serves it
//   CrossbarSolution r = xs.solve(v);                  // v: K x M volts -> r.currents: K x N
//   RowMatrixXd t = xs.effective_matrix();             // M x N, exact: I = T^T v
//
// Two paths. When PCG solves a canonical linear array (backend pcg, or auto at its size, see
// crossbar_operator.h for what is canonical) and no node voltages are wanted, the system is
// written straight from the spec into the line layout (CrossbarOperator + PcgBackend in grid
// mode): no Circuit (the spec constructor never builds one), no MnaSystem, no assembled
// matrix. Otherwise the circuit is assembled and solved by CircuitSolver (any back end,
// Newton for nonlinear cells). Both give the same currents (tests/solvers/pcg_backend_test.cc).
//
// Exactness of the effective matrix: for linear cells the column currents are linear in the
// row voltages, I = T^T v, with T including every wire, driver and sense resistance. T costs
// one more factorization, ordered with the terminals last (port_reduction.h), or, as the
// referee and for arrays too large to factor, min(M, N) solves through the solver's own
// factorization (the adjoint system when N < M, which is the same matrix since it is
// symmetric); see EffectiveMethod. After it a batch of K inputs is one K x M by M x N
// product. solve() uses it automatically when K > min(M, N) and no node voltages are wanted
// (batch_method auto), and says so in the summary.
#pragma once

#include <functional>
#include <memory>

#include "netlists/crossbar_builder.h"
#include "solvers/cell_regions.h"
#include "solvers/circuit_solver.h"

namespace xbar::solvers {

using netlists::RowMatrixXd;

class CrossbarOperator;
class PcgBackend;

enum class BatchMethod { kAuto, kDirect, kEffective };
std::string to_string(BatchMethod b);
BatchMethod parse_batch_method(const std::string& s);  // throws InputError ("batch-method")

// How the effective matrix T is computed. kPortReduction: one Cholesky factorization with the
// array's terminals ordered last (port_reduction.h), about one factorization's cost at any
// size. kSolves: the factorization of the solver plus min(M, N) solves (forward or adjoint),
// the referee. kAuto: the port reduction for a linear canonical crossbar when the back end is
// CHOLMOD (requested or chosen) or auto with a factor that fits in the available memory; the
// solves otherwise (KLU or PCG requested explicitly, or arrays too large to factor).
enum class EffectiveMethod { kAuto, kPortReduction, kSolves };
std::string to_string(EffectiveMethod e);
EffectiveMethod parse_effective_method(const std::string& s);  // throws InputError ("effective-method")

struct CrossbarSolveOptions {
  SolverOptions solver;
  // How batches are solved on the native path (see the file comment); ngspice is always direct.
  BatchMethod batch = BatchMethod::kAuto;
  // Keep every node voltage (K x 2MN, rows then columns): memory 16 MN bytes per input.
  bool keep_voltages = false;
  // Report every cell's operating region per input (CrossbarSolution::regions; the flash
  // cell's subthreshold / moderate / linear / saturation): MN bytes per input. Filled by direct
  // solves of the assembled circuit, the path every nonlinear array takes; linear arrays (no
  // regions) solved from the spec or through the effective matrix leave it empty.
  bool keep_regions = false;
  // Let PCG build its operator straight from the spec when the array is canonical (see the file
  // comment); false forces the assembled circuit (tests and measurements of the generic path).
  bool grid_operator = true;
  // How many inputs the caller will solve (a hint for backend auto): a linear batch larger
  // than min(M, N) goes through the effective matrix, min(M, N) solves through one system,
  // where a factorization reused that often is as fast as CG up to about 640^2, so auto then
  // picks CHOLMOD up to kAutoEffectiveCholmodMaxUnknowns and PCG beyond (measured, bench/
  // README.md: 1000 inputs at 512^2 CHOLMOD 63 s, PCG 67 s; at 1024^2 CHOLMOD 652 s, PCG 466 s).
  int64_t expected_inputs = 1;
  // How effective_matrix() computes T (see EffectiveMethod).
  EffectiveMethod effective = EffectiveMethod::kAuto;
};

constexpr int64_t kAutoEffectiveCholmodMaxUnknowns = 2 * 640 * 640;

// The solver options CrossbarSolver uses for this array: options.solver, with backend auto
// resolved to native for linear batches that will go through the effective matrix (see
// expected_inputs). Exposed so that callers that only compute T can apply the same rule.
SolverOptions effective_solver_options(const netlists::CrossbarCircuit& crossbar,
                                       const CrossbarSolveOptions& options);
SolverOptions effective_solver_options(int64_t rows, int64_t cols, bool linear,
                                       const CrossbarSolveOptions& options);


struct CrossbarSolution {
  RowMatrixXd currents;   // K x N, amperes into the virtual grounds
  RowMatrixXd voltages;   // K x 2MN (r(i,j) then c(i,j), row-major), only with keep_voltages
  // The full circuit solution of every node and source (only with keep_voltages).
  Eigen::MatrixXd all_node_voltages, all_source_currents;
  // Per input and cell, the operating region (only with keep_regions; cell_regions.h).
  CellRegions regions;
  SolveSummary summary;
};

class CrossbarSolver {
 public:
  // The circuit must outlive the solver.
  CrossbarSolver(const netlists::CrossbarCircuit& crossbar, const CrossbarSolveOptions& options);
  // g_s (M x N siemens) is copied where needed; the circuit, if the path needs one, is built
  // and owned here. Errors as netlists::build_crossbar().
  CrossbarSolver(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                 std::shared_ptr<const devices::CellModel> cell, const CrossbarSolveOptions& options);
  ~CrossbarSolver();
  CrossbarSolution solve(const RowMatrixXd& v);
  // Exact M x N effective matrix (native back ends only).
  RowMatrixXd effective_matrix();
  const SolveSummary& summary() const;
  // The assembled-circuit path's solver; asserts !from_spec().
  const CircuitSolver& circuit_solver() const;
  // True when the grid operator path serves this array (no circuit assembled).
  bool from_spec() const { return op_ != nullptr; }
  // Seconds the spec constructor spent building the circuit (0 when it built none).
  double circuit_build_s() const { return circuit_build_s_; }

 private:
  // True when the grid path applies; builds it.
  bool try_grid(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, bool linear_cell,
                const devices::CellModel* cell);
  // The grid path's direct variant: true when it applies (see try_grid); builds it.
  bool try_grid_direct(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, const SolverOptions& s);
  void init_circuit();
  CrossbarSolution solve_grid(const RowMatrixXd& v);
  RowMatrixXd effective_matrix_grid();
  // The port reduction of the canonical array (g: its conductances), booked in the summary;
  // empty when `required` is false and it does not fit in the available memory.
  RowMatrixXd port_effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, bool required,
                                    SolveSummary& summary);
  void sync_grid_summary();
  RowMatrixXd currents_from(const Eigen::MatrixXd& src_currents) const;
  std::unique_ptr<netlists::CrossbarCircuit> owned_;
  const netlists::CrossbarCircuit* x_ = nullptr;
  CrossbarSolveOptions options_;
  std::unique_ptr<CircuitSolver> circuit_solver_;
  // Grid path: PCG, or (small SPD arrays under auto, native or eigen) a direct factorization
  // of the same system (GridDirect, crossbar_solver.cc).
  std::unique_ptr<CrossbarOperator> op_;
  std::unique_ptr<PcgBackend> pcg_;
  struct GridDirect;
  std::unique_ptr<GridDirect> direct_;
  // Solves the grid system for k right-hand sides through pcg_ or direct_ (PcgBackend::solve_grid's contract).
  void grid_solve(int64_t k, const std::function<void(int64_t, double*)>& rhs,
                  const std::function<void(int64_t, const double*)>& use);
  SolveSummary grid_summary_;
  RowMatrixXd grid_g_;  // the grid path's conductances (for the port reduction)
  netlists::CrossbarSpec grid_spec_;
  std::string port_note_;  // the last port reduction, appended to the summary's message
  // Circuit path: the last effective_matrix() used the port reduction, at this cost.
  bool port_used_ = false;
  SolveSummary port_summary_;
  SolveSummary summary_with_port() const;
  mutable SolveSummary merged_summary_;  // what summary() returns on the circuit path
  std::string grid_message_;             // the grid path's summary message, before any port note
  double circuit_build_s_ = 0;
  SparseMatrix w_x_;  // N x n: column currents from the unknowns
  SparseMatrix w_s_;  // N x S: column currents from the source values
  SparseMatrix p_;    // S x M: source values from the row voltages
  Eigen::VectorXd s_fixed_;  // S: the input-independent source values (gate lines, 0 V grounds)
};

}  // namespace xbar::solvers
