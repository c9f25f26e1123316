#include "solvers/transient_referee.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "netlists/spice_writer.h"
#include "solvers/settling.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

void TransientRefereeOptions::validate() const {
  if (!(t_max_s >= 0) || !std::isfinite(t_max_s))
    throw InputError("transient referee: t_max_s = " + format_number(t_max_s) + ": must be finite and >= 0 s");
  if (!(ideal_rise_fraction > 0 && ideal_rise_fraction <= 1))
    throw InputError("transient referee: ideal_rise_fraction = " + format_number(ideal_rise_fraction) +
                     ": must be in (0, 1]");
}

namespace {

// w sampled at times t, linearly interpolated at time q (t increasing, q within [t0, t_end]).
double interpolate(const Eigen::VectorXd& t, const Eigen::VectorXd& w, double q) {
  const double* begin = t.data();
  const double* end = begin + t.size();
  const double* it = std::lower_bound(begin, end, q);
  if (it == end) return w(t.size() - 1);
  const Eigen::Index k = it - begin;
  if (k == 0 || *it == q) return w(k);
  const double f = (q - t(k - 1)) / (t(k) - t(k - 1));
  return w(k - 1) + f * (w(k) - w(k - 1));
}

}  // namespace

TransientComparison compare_transient(const netlists::CrossbarCircuit& x, const Eigen::VectorXd& v,
                                      const CrossbarTransientOptions& o, const TransientRefereeOptions& r,
                                      const LinearBackendOptions& linear) {
  r.validate();
  TransientComparison c;
  auto t0 = std::chrono::steady_clock::now();
  c.native = crossbar_transient(x, v, o, linear);
  c.native_s = seconds_since(t0);
  const TransientRun& run = c.native.run;
  const TransientOptions& to = o.transient;

  // The deck: the array with its inputs as the row sources' values, capacitors, steps, .tran.
  netlists::CrossbarCircuit deck_circuit = x;
  netlists::set_row_voltages(deck_circuit, v);
  netlists::SpiceWriteOptions w;
  w.c_row_f = x.spec.c_row_f;
  w.c_col_f = x.spec.c_col_f;
  w.transient.t_stop_s = to.t_stop_s;
  c.deck_rise_s = to.t_rise_s > 0 ? to.t_rise_s : r.ideal_rise_fraction * run.min_step_s;
  c.deck_t_max_s = r.t_max_s > 0 ? r.t_max_s : to.time_step_s;
  w.transient.t_rise_s = c.deck_rise_s;
  w.transient.t_max_s = c.deck_t_max_s;
  w.transient.t_step_s = to.time_step_s > 0 ? to.time_step_s : to.t_stop_s / 1000;
  w.title = "xbar transient referee deck";
  std::vector<std::string> deck = netlists::spice_lines(deck_circuit.circuit, {}, w);

  // Vectors: every virtual-ground source (summed per column below), then every row source.
  const std::vector<size_t> src = x.circuit.source_indices();
  std::vector<std::string> names;
  std::vector<std::pair<int64_t, Eigen::Index>> sense;  // (column, vector)
  std::vector<std::pair<int32_t, Eigen::Index>> rows;   // (row, vector)
  for (int64_t j = 0; j < x.cols(); ++j)
    for (int32_t k : x.sense_sources[size_t(j)])
      if (k >= 0) {
        sense.push_back({j, Eigen::Index(names.size())});
        names.push_back(netlists::spice_element_name(x.circuit, src[size_t(k)]) + "#branch");
      }
  for (size_t k = 0; k < src.size(); ++k)
    if (x.source_row[k] >= 0) {
      rows.push_back({x.source_row[k], Eigen::Index(names.size())});
      names.push_back(netlists::spice_element_name(x.circuit, src[k]) + "#branch");
    }
  NgspiceOptions ngo;
  ngo.options = r.ngspice_options;
  t0 = std::chrono::steady_clock::now();
  c.ngspice = NgspiceBackend(ngo).run_transient(std::move(deck), names);
  c.ngspice_s = seconds_since(t0);
  const Eigen::VectorXd& tn = c.ngspice.times_s;
  const Eigen::Index nt = tn.size();

  c.ngspice_columns = RowMatrixXd::Zero(nt, x.cols());
  for (const auto& [j, k] : sense) c.ngspice_columns.col(j) += c.ngspice.vectors.col(k);
  // Energy: -V_k(t) I_k(t), trapezoids over ngspice's own points; V_k(t) the PWL ramp.
  Eigen::VectorXd p = Eigen::VectorXd::Zero(nt);
  for (Eigen::Index q = 0; q < nt; ++q) {
    const double ramp = std::min(tn(q) / c.deck_rise_s, 1.0);
    for (const auto& [i, k] : rows) p(q) -= v(i) * ramp * c.ngspice.vectors(q, k);
  }
  for (Eigen::Index q = 0; q + 1 < nt; ++q) c.ngspice_energy_j += 0.5 * (p(q) + p(q + 1)) * (tn(q + 1) - tn(q));
  c.energy_rel_diff = std::abs(c.ngspice_energy_j - run.energy_j) / std::abs(run.energy_j);

  // Waveforms at the native time points after the ramp.
  const double fs = c.native.full_scale_a > 0 ? c.native.full_scale_a : run.output_scale;
  for (Eigen::Index k = 0; k < run.times_s.size(); ++k) {
    const double t = run.times_s(k);
    if (t < c.deck_rise_s || (t == 0 && to.t_rise_s == 0)) continue;
    for (int64_t j = 0; j < x.cols(); ++j)
      c.max_waveform_diff = std::max(
          c.max_waveform_diff, std::abs(run.outputs(k, j) - interpolate(tn, c.ngspice_columns.col(j), t)) / fs);
  }
  // Settling through the same definition, band and final values.
  c.ngspice_settling_s.resize(x.cols());
  for (int64_t j = 0; j < x.cols(); ++j) {
    c.ngspice_settling_s(j) =
        settling_time(tn, c.ngspice_columns.col(j), run.outputs_dc(j), c.native.settle_band_a).time_s;
    const double d = std::abs(c.ngspice_settling_s(j) - c.native.settling_s(j));
    Eigen::Index k = 0;  // the native step containing the native settling time
    while (k + 2 < run.times_s.size() && run.times_s(k + 1) < c.native.settling_s(j)) ++k;
    const double step = run.times_s(std::min<Eigen::Index>(k + 1, run.times_s.size() - 1)) - run.times_s(k);
    c.max_settling_diff_s = std::max(c.max_settling_diff_s, d);
    c.max_settling_diff_steps = std::max(c.max_settling_diff_steps, step > 0 ? d / step : 0.0);
  }
  return c;
}

}  // namespace xbar::solvers
