// The crossbar's transient (issue 20): every row steps at t = 0 from 0 V to its input, through
// its driver resistance, into an array with capacitance to ground at every row node
// (spec.c_row_f) and every column node (spec.c_col_f); the column currents into the virtual
// grounds are recorded until t_stop, with each column's settling time and the energy the row
// inputs deliver.
//
//   solvers::CrossbarTransientOptions o;              // transient (t_stop, steps, method),
//   o.transient.t_stop_s = 5e-9;                      // settle_tol or error_adc_bits
//   solvers::CrossbarTransient r = solvers::crossbar_transient(crossbar, v, o);
//   r.run.times_s (T), r.run.outputs (T x N amperes), r.run.outputs_dc (N: = CrossbarSolver),
//   r.settling_s (N), r.run.energy_j, r.row_energy_j (M)
//
// The integration, its methods, steps and energy rule: transient.h. Settling: settling.h, with
// the band settle_tol x full_scale around each column's DC current (the t -> infinity limit,
// the same as `xbar solve` of the array). Other sources (virtual grounds, 1T1R gate lines) keep
// their value throughout; the array is at rest (its DC state with every row at 0 V) before t = 0.
#pragma once

#include <Eigen/Dense>
#include <vector>

#include "netlists/crossbar_builder.h"
#include "solvers/transient.h"

namespace xbar::solvers {

struct CrossbarTransientOptions {
  TransientOptions transient;
  // Settling band as a fraction of full scale, in [0, 1): 0 = half an LSB of an
  // error_adc_bits ADC (default_settle_tol(), settling.h).
  double settle_tol = 0;
  // Bits of the error ADC that sets the default band, in [1, 24]; 8 as in `xbar calibrate`.
  int error_adc_bits = 8;
  // Full scale of the band, amperes, >= 0; 0 = the largest ideal column current with every
  // row at the input's largest |voltage|: max_j sum_i G_ij max_i |v_i| (calib::full_scale_a
  // at that voltage).
  double full_scale_a = 0;
  // Throws InputError naming the key (settle-tol, error-adc-bits, full-scale) or the
  // transient's own (TransientOptions::validate()).
  void validate() const;
};

struct CrossbarTransient {
  TransientRun run;                // outputs: the N column currents, amperes
  Eigen::VectorXd settling_s;      // N: per column (settling.h)
  std::vector<bool> settled;       // N: false where the column is still outside at t_stop
  double max_settling_s = 0;       // the slowest column
  bool all_settled = true;
  double full_scale_a = 0;         // the full scale the band refers to
  double settle_tol = 0;           // the band as a fraction of it (the default resolved)
  double settle_band_a = 0;        // settle_tol * full_scale_a
  Eigen::VectorXd row_energy_j;    // M: energy each row's driver(s) delivered (resistive path)
};

// v: M row voltages after the step. Throws InputError (options, v of the wrong length, nonlinear
// cells) or NumericalError (singular circuit, failed factorization, max-steps exceeded).
CrossbarTransient crossbar_transient(const netlists::CrossbarCircuit& crossbar, const Eigen::VectorXd& v,
                                     const CrossbarTransientOptions& options,
                                     const LinearBackendOptions& linear = {});

// The TransientProblem crossbar_transient() solves (node capacitances from the spec, sources
// before and after the step, column-current outputs, the row sources as energy sources), for
// callers that run it themselves.
TransientProblem crossbar_transient_problem(const netlists::CrossbarCircuit& crossbar,
                                            const Eigen::VectorXd& v);

}  // namespace xbar::solvers
