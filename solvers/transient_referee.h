// ngspice as the referee of the native transient (issue 20): the same crossbar with the same
// capacitors and the same step, written as a .tran deck (netlists/spice_writer.h) and run by
// libngspice in-process (NgspiceBackend::run_transient()); waveforms, settling times and
// energy compared.
//
//   solvers::CrossbarTransientOptions o;   o.transient.time_step_s = 10e-15; ...
//   solvers::TransientComparison c = solvers::compare_transient(crossbar, v, o);
//   c.max_waveform_diff (fraction of full scale), c.max_settling_diff_steps, c.energy_rel_diff
//
// The deck. The row sources step from 0 V as PWL ramps: over t_rise when the native run has
// one (then both integrate exactly the same circuit), otherwise, for the native ideal step,
// over ideal_rise_fraction of the native run's smallest step (ngspice's PWL needs increasing
// times; the ramp then shifts ngspice's waveforms by about half its length, a difference
// below ideal_rise_fraction of what one step changes). TMAX, ngspice's largest step, is
// t_max_s, or the native fixed step (matched steps), or ngspice's default for an adaptive
// native run. ngspice_options sets the method and its tolerances (see the field).
//
// The comparisons. Waveforms: at every native time point after the ramp, ngspice's column
// currents interpolated linearly between its own time points, the largest difference over
// columns as a fraction of the full scale the settling band refers to. Settling: ngspice's
// waveforms through the same settling_time() with the same band and the same final (DC)
// values, the largest difference over columns, in seconds and in native steps (the step that
// contains the native settling time). Energy: ngspice's as the trapezoidal integral over its
// own time points of -sum_k V_k(t) I_k(t) over the row sources, against the native energy_j.
#pragma once

#include <Eigen/Dense>
#include <string>

#include "solvers/crossbar_transient.h"
#include "solvers/ngspice_backend.h"

namespace xbar::solvers {

struct TransientRefereeOptions {
  // ngspice's .options: its trapezoidal rule (ngspice takes a backward-Euler step after each
  // breakpoint, so the step does not make it ring) with tolerances far below its defaults
  // (reltol 1e-3, trtol 7), so that its own error stays within ~1e-5 of full scale of the
  // exact solution on the test arrays (tests/solvers/transient_ngspice_test.cc). Measured
  // there against the exact solution at TMAX = 5 fs: trap 3.9e-6, gear (maxord 2) 7.0e-6.
  std::string ngspice_options =
      "method=trap reltol=1e-7 abstol=1e-16 vntol=1e-10 chgtol=1e-24 trtol=1";
  // .tran TMAX, seconds, >= 0: 0 = the native fixed step, or ngspice's default when the
  // native run is adaptive.
  double t_max_s = 0;
  // For a native ideal step: ngspice's ramp as a fraction of the native run's smallest step,
  // in (0, 1].
  double ideal_rise_fraction = 1e-3;
  void validate() const;  // throws InputError naming the field
};

struct TransientComparison {
  CrossbarTransient native;
  NgspiceTransient ngspice;        // its time points; vectors: column currents then row sources
  RowMatrixXd ngspice_columns;     // T_ng x N column currents into the virtual grounds
  Eigen::VectorXd ngspice_settling_s;  // N
  double ngspice_energy_j = 0;
  double deck_rise_s = 0;          // the PWL ramp ngspice integrated
  double deck_t_max_s = 0;         // its TMAX (0 = ngspice's default)
  double max_waveform_diff = 0;    // fraction of full scale (native.full_scale_a)
  double max_settling_diff_s = 0;
  double max_settling_diff_steps = 0;
  double energy_rel_diff = 0;      // |E_ngspice - E_native| / E_native
  double native_s = 0, ngspice_s = 0;  // wall time of each run (ngspice: load + run + read)
};

TransientComparison compare_transient(const netlists::CrossbarCircuit& crossbar, const Eigen::VectorXd& v,
                                      const CrossbarTransientOptions& options,
                                      const TransientRefereeOptions& referee = {},
                                      const LinearBackendOptions& linear = {});

}  // namespace xbar::solvers
