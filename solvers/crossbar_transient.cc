#include "solvers/crossbar_transient.h"

#include <algorithm>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/settling.h"

namespace xbar::solvers {

void CrossbarTransientOptions::validate() const {
  transient.validate();
  if (!(settle_tol >= 0 && settle_tol < 1))
    throw InputError("key settle-tol = " + format_number(settle_tol) +
                     ": must be in [0, 1) (fraction of full scale; 0 = half an LSB of error-adc-bits)");
  default_settle_tol(error_adc_bits);  // throws naming error-adc-bits
  if (!(full_scale_a >= 0) || !std::isfinite(full_scale_a))
    throw InputError("key full-scale = " + format_number(full_scale_a) + ": must be finite and >= 0 A (0 = auto)");
}

TransientProblem crossbar_transient_problem(const netlists::CrossbarCircuit& x, const Eigen::VectorXd& v) {
  const netlists::Circuit& c = x.circuit;
  if (v.size() != x.rows())
    throw InputError("input vector has " + std::to_string(v.size()) + " entries, expected rows = " +
                     std::to_string(x.rows()));
  TransientProblem p;
  p.node_capacitance_f = Eigen::VectorXd::Zero(c.num_nodes());
  for (int32_t i = 0; i < c.grid_rows(); ++i)
    for (int32_t j = 0; j < c.grid_cols(); ++j) {
      p.node_capacitance_f(c.row_node(i, j)) = x.spec.c_row_f;
      p.node_capacitance_f(c.col_node(i, j)) = x.spec.c_col_f;
    }
  p.s_before = x.fixed_source_values();
  p.s_after = x.source_values(v.transpose()).col(0);
  // Column j's current is the sum of its virtual-ground source currents (SPICE sign: into the
  // virtual ground, crossbar_builder.h).
  const int64_t ns = int64_t(x.source_row.size());
  SparseMatrix sel(x.cols(), ns);
  std::vector<Eigen::Triplet<double, int64_t>> t;
  for (int64_t j = 0; j < x.cols(); ++j)
    for (int32_t k : x.sense_sources[size_t(j)])
      if (k >= 0) t.emplace_back(j, k, 1.0);
  sel.setFromTriplets(t.begin(), t.end());
  p.output_sources = sel;
  for (int32_t k = 0; k < int32_t(ns); ++k)
    if (x.source_row[size_t(k)] >= 0) p.energy_sources.push_back(k);
  return p;
}

CrossbarTransient crossbar_transient(const netlists::CrossbarCircuit& x, const Eigen::VectorXd& v,
                                     const CrossbarTransientOptions& o, const LinearBackendOptions& linear) {
  o.validate();
  TransientProblem p = crossbar_transient_problem(x, v);
  CrossbarTransient r;
  r.run = run_transient(x.circuit, p, o.transient, linear);
  // Full scale: the ideal array's largest column current with every row at max |v|.
  r.full_scale_a = o.full_scale_a;
  if (!(r.full_scale_a > 0)) {
    const double v_max = v.size() ? v.cwiseAbs().maxCoeff() : 0.0;
    const auto& el = x.circuit.elements();
    double worst = 0;
    for (int64_t j = 0; j < x.cols(); ++j) {
      double sum = 0;  // elements i*N + j are the cells (or 1T1R memory elements), crossbar_builder.h
      for (int64_t i = 0; i < x.rows(); ++i) sum += el[size_t(i * x.cols() + j)].value;
      worst = std::max(worst, sum);
    }
    r.full_scale_a = worst * v_max;
  }
  r.settle_tol = o.settle_tol > 0 ? o.settle_tol : default_settle_tol(o.error_adc_bits);
  r.settle_band_a = r.settle_tol * r.full_scale_a;
  const int64_t n = x.cols();
  r.settling_s.resize(n);
  r.settled.assign(size_t(n), true);
  for (int64_t j = 0; j < n; ++j) {
    const Settling s = settling_time(r.run.times_s, r.run.outputs.col(j), r.run.outputs_dc(j), r.settle_band_a);
    r.settling_s(j) = s.time_s;
    r.settled[size_t(j)] = s.settled;
    r.all_settled = r.all_settled && s.settled;
  }
  r.max_settling_s = n ? r.settling_s.maxCoeff() : 0.0;
  r.row_energy_j = Eigen::VectorXd::Zero(x.rows());
  for (size_t k = 0; k < p.energy_sources.size(); ++k)
    r.row_energy_j(x.source_row[size_t(p.energy_sources[k])]) += r.run.source_energy_j(Eigen::Index(k));
  return r;
}

}  // namespace xbar::solvers
