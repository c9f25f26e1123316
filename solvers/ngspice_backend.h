// The ngspice back end: the same Circuit, written as a SPICE deck, loaded into libngspice
// in-process (no subprocess) and solved by its operating-point analysis.
//
//   solvers::NgspiceBackend ng;
//   NgspiceSolution sol = ng.solve(circuit, s);   // s: S x K source values, one op per column
//
//   NgspiceTransient tr = ng.run_transient(deck_lines, {"vsnsb_0#branch"});   // a .tran deck
//
// Contract: libngspice keeps process-global state (one circuit at a time), so every call
// holds a process-wide lock, starts from a clean slate (remcirc / destroy all) and cleans up
// after itself. Console output goes through the SendChar callback into NgspiceSolution::log
// instead of the terminal. The deck is loaded once per call; for each further input column
// only the sources are `alter`ed before the next `op`. Errors (ngspice rejects the deck, the
// operating point fails, a node is missing from the output) throw xbar::NumericalError with
// ngspice's own message lines.
//
// libngspice is not linked: the first call opens it with dlopen (libngspice.so.0, or the file
// $XBAR_NGSPICE_LIBRARY names), so processes that never use ngspice do not load it. When it
// cannot be opened, the call throws xbar::NumericalError naming the libraries tried and why.
#pragma once

#include <Eigen/Dense>
#include <string>
#include <vector>

#include "netlists/circuit.h"

namespace xbar::solvers {

struct NgspiceOptions {
  // `.options` card contents. For a linear deck the operating point is one LU solve and the
  // tolerances do not matter; with nonlinear cells ngspice's defaults (reltol 1e-3) would
  // stop Newton at ~1e-3 relative, so they are tightened to let it serve as a referee at 1e-6.
  std::string options = "reltol=1e-9 abstol=1e-15 vntol=1e-12 itl1=500";
};

struct NgspiceSolution {
  Eigen::MatrixXd node_voltages;    // num_nodes x K, volts, in Circuit node order
  Eigen::MatrixXd source_currents;  // S x K, amperes, SPICE sign; current sources: their value
  double load_s = 0;                // deck text generation + ngSpice_Circ (parse, setup)
  double solve_s = 0;               // all `op` runs
  double read_s = 0;                // fetching the vectors
  std::string log;                  // everything ngspice printed
  std::string version;              // e.g. "ngspice-39"
};

// A transient run (run_transient()): ngspice's own time points and the vectors asked for.
struct NgspiceTransient {
  Eigen::VectorXd times_s;    // T time points of the transient plot, seconds
  Eigen::MatrixXd vectors;    // T x V: column v is vectors[v] of the request, at each time
  double load_s = 0;          // ngSpice_Circ (parse, setup)
  double run_s = 0;           // the analysis
  double read_s = 0;          // fetching the vectors
  std::string log;
  std::string version;
};

class NgspiceBackend {
 public:
  explicit NgspiceBackend(NgspiceOptions options = {}) : options_(std::move(options)) {}
  NgspiceSolution solve(const netlists::Circuit& circuit, const Eigen::MatrixXd& source_values);
  // Loads a complete transient deck (netlists::spice_lines() with a TransientCard: elements,
  // .tran, .end; options.options is added as an .options card), runs its analysis and returns
  // the time vector and the named vectors of the transient plot (lowercase ngspice names, e.g.
  // "vsnsb_0#branch" for a source's current or "c3_1" for a node voltage). Same contract as
  // solve(): one process-wide lock, a clean slate before and after, errors (a rejected deck,
  // "timestep too small", a missing vector) as NumericalError with ngspice's messages.
  NgspiceTransient run_transient(std::vector<std::string> deck, const std::vector<std::string>& vectors);

 private:
  NgspiceOptions options_;
};

}  // namespace xbar::solvers
