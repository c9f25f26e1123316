#include "calib/array_evaluation.h"

#include <chrono>
#include <cmath>

#include "calib/effective.h"
#include "calib/flash_compensation.h"
#include "calib/nonlinear_compensation.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

const char* criterion_name(int c) {
  return c == kUncompensated ? "uncompensated" : c == kCompensated ? "compensated" : "calibrated";
}

void EvaluationOptions::validate() const {
  comp.validate();
  if (!(v_read_v > 0) || !std::isfinite(v_read_v))
    throw InputError("key v-read = " + format_number(v_read_v) + ": must be finite and > 0 V");
  if (heldout < 1) throw InputError("key heldout = " + std::to_string(heldout) + ": must be >= 1");
  if (calibrate && calib_inputs < 2)
    throw InputError("key calib-inputs = " + std::to_string(calib_inputs) + ": must be >= 2");
  if (calibrate && pwl_points > calib_inputs)
    throw InputError("key pwl-points = " + std::to_string(pwl_points) + ": must not exceed calib-inputs = " +
                     std::to_string(calib_inputs));
  if (pwl_points < 0 || pwl_points == 1 || pwl_points > 1000)
    throw InputError("key pwl-points = " + std::to_string(pwl_points) + ": must be 0 (off) or in [2, 1000]");
  if (adc_bits < 1 || adc_bits > 24)
    throw InputError("key error-adc-bits = " + std::to_string(adc_bits) + ": must be in [1, 24]");
  if (!(full_scale_a >= 0) || !std::isfinite(full_scale_a))
    throw InputError("key full-scale = " + format_number(full_scale_a) + ": must be finite and >= 0 A (0 = auto)");
}

ArrayEvaluation evaluate_array(const netlists::CrossbarSpec& spec, const RowMatrixXd& g,
                               std::shared_ptr<const devices::CellModel> cell,
                               const EvaluationOptions& o, const solvers::SolverOptions& solver) {
  o.validate();
  if (o.table_on_compensated && !o.compensate)
    throw InputError("key table-on = compensated needs the compensation map (compensate = true)");
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& msg) {
    if (o.progress) o.progress(msg);
  };
  ArrayEvaluation r;
  r.linear = cell->is_linear();
  const int64_t m = g.rows();
  const RowMatrixXd v = heldout_inputs(o.heldout, m, o.v_read_v, o.inputs, o.seed);
  const RowMatrixXd vc = o.calibrate ? random_inputs(o.calib_inputs, m, o.v_read_v, o.inputs, o.seed,
                                                     InputStream::kCalibration)
                                     : RowMatrixXd();
  CompensationOptions co = o.comp;
  co.progress = o.progress;
  r.scale_used = scale_key(co);
  if (!r.linear && co.scale_per_column) {
    // A nonlinear map holds at one operating input, with one global scale
    // (nonlinear_compensation.h): the signal-keeping choice there is auto.
    co.scale_per_column = false;
    r.scale_used = "auto (per-column scales need linear cells)";
  }
  // Currents of the array as given and of the map, on held-out and calibration inputs.
  RowMatrixXd i_before, i_comp, ic_before, ic_comp, ideal, ideal_c;
  double fs = o.full_scale_a;
  if (r.linear) {
    ideal = v * g;
    if (o.calibrate) ideal_c = vc * g;
    if (!(fs > 0)) fs = full_scale_a(g, o.v_read_v);
    r.reference = "G^T v (no wire, driver or sense resistance)";
    say(std::to_string(m) + " x " + std::to_string(g.cols()) + " array: effective matrix of the target");
    const Effective before = effective_matrix(spec, g, solver, co.effective);
    r.t_before = before.t;
    r.summary = before.summary;
    i_before = v * before.t;
    if (o.calibrate) ic_before = vc * before.t;
    if (o.compensate) {
      r.comp = compensate(spec, g, co, solver);
      i_comp = v * r.comp.t;
      if (o.calibrate && o.table_on_compensated) ic_comp = vc * r.comp.t;
    }
  } else {
    const auto& c = *cell;
    // Flash cells: g holds conductance equivalents at v_read; the circuit holds thresholds.
    const auto flash = std::dynamic_pointer_cast<const devices::FlashCell>(cell);
    auto values = [&](const RowMatrixXd& gg) {
      return flash ? flash_thresholds_for(*flash, gg, o.v_read_v) : gg;
    };
    const RowMatrixXd g_values = values(g);
    ideal = wire_free_currents(c, g_values, v);
    if (o.calibrate) ideal_c = wire_free_currents(c, g_values, vc);
    if (!(fs > 0)) fs = wire_free_currents(c, g_values, RowMatrixXd::Constant(1, m, o.v_read_v)).maxCoeff();
    r.reference = flash ? "sum_i I_read(V_th,ij, v_i): the same flash cells (thresholds of the conductance-equivalent "
                          "targets at v-read) with no wire, driver or sense resistance, gate at its line's voltage, "
                          "source at 0 V (Newton solves of the array on every input)"
                        : "sum_i f(G_ij, v_i): the same " + cell->name() +
                              " cells with no wire, driver or sense resistance (Newton solves of the array on every input)";
    auto solve = [&](const RowMatrixXd& vals, const RowMatrixXd& vv, const char* what) {
      say("Newton solves of the " + std::string(what) + " array on " + std::to_string(vv.rows()) + " inputs");
      return array_currents(spec, vals, cell, vv, solver, &r.summary);
    };
    i_before = solve(g_values, v, "target");
    if (o.calibrate && !o.table_on_compensated) ic_before = solve(g_values, vc, "target");
    if (o.compensate) {
      const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(m, o.v_read_v);
      r.comp = flash ? compensate_flash(spec, g, flash, v_op, o.v_read_v, co, solver)
                     : compensate_nonlinear(spec, g, cell, v_op, co, solver);
      const RowMatrixXd comp_values = values(r.comp.g_s);
      i_comp = solve(comp_values, v, "compensated");
      if (o.calibrate && o.table_on_compensated) ic_comp = solve(comp_values, vc, "compensated");
    }
  }
  const bool per_column = o.compensate && co.scale_per_column;
  if (per_column) {
    // Each column divided by its own gain, digitally (see adc_compensated).
    const Eigen::Map<const Eigen::ArrayXd> sj(r.comp.column_scales.data(), Eigen::Index(r.comp.column_scales.size()));
    i_comp.array().rowwise() /= sj.transpose();
    if (ic_comp.size()) ic_comp.array().rowwise() /= sj.transpose();
  }
  const double s = o.compensate && !per_column ? r.comp.scale : 1.0;
  r.adc = {o.adc_bits, fs};
  r.adc_compensated = {o.adc_bits, fs * s};
  r.error[kUncompensated] = error_stats(i_before, ideal, r.adc);
  r.evaluated[kUncompensated] = true;
  if (o.compensate) {
    r.error[kCompensated] = error_stats(i_comp, s * ideal, r.adc_compensated);
    r.evaluated[kCompensated] = true;
  }
  if (o.calibrate) {
    // The table corrects the uncompensated array (the ADC-side alternative to the map), or the
    // compensated one (what is left after the map).
    const bool on_comp = o.table_on_compensated;
    const double ts = on_comp ? s : 1.0;
    r.adc_table = on_comp ? r.adc_compensated : r.adc;
    r.table = fit_calibration(on_comp ? ic_comp : ic_before, ts * ideal_c, o.pwl_points);
    const RowMatrixXd& measured = on_comp ? i_comp : i_before;
    r.error[kCalibrated] = error_stats(r.table.apply(measured), ts * ideal, r.adc_table);
    r.calibrated_gain_offset = error_stats(r.table.apply_gain_offset(measured), ts * ideal, r.adc_table);
    r.evaluated[kCalibrated] = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace xbar::calib
