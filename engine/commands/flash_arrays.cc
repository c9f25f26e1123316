#include "engine/commands/flash_arrays.h"

#include <cmath>
#include <string>
#include <vector>

#include "devices/flash_cell.h"
#include "devices/registry.h"
#include "engine/io/npy.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::commands::detail {

using netlists::RowMatrixXd;
using nlohmann::json;

std::shared_ptr<const devices::CellModel> make_cell(const RunConfig& cfg, int64_t m, int64_t n) {
  devices::CellParams p = cfg.cell_params;
  if (!cfg.v_gate_lines_path.empty()) {
    if (cfg.cell != "flash")
      throw InputError("key v-gate-lines: only the flash cell has per-line gate voltages (cell = " + cfg.cell + ")");
    const devices::GateLines lines = p.gate_lines();
    const int64_t count = lines.count(m, n);
    io::NpyArray arr = io::read_npy(cfg.v_gate_lines_path);
    io::require_shape(arr, cfg.v_gate_lines_path,
                      "gate-line voltages --v-gate-lines (gate = " + devices::to_string(lines.layout) + ")",
                      {{"lines"}, {count}});
    io::require_finite(arr, cfg.v_gate_lines_path, "gate-line voltage");
    p.v_gate_lines_v = arr.data;
  }
  auto cell = devices::make_cell_model(cfg.cell, p);
  if (const devices::GateLines* g = cell->gate_lines()) g->validate(m, n);
  return cell;
}

const devices::FlashCell& cell_as_flash(const devices::CellModel& cell) {
  const auto* flash = dynamic_cast<const devices::FlashCell*>(&cell);
  if (!flash) throw std::logic_error("cell_as_flash(): cell model '" + cell.name() + "' is not the flash cell");
  return *flash;
}

void require_flash_compatible(const RunConfig& cfg) {
  if (cfg.cell != "flash") return;
  if (cfg.read_noise.relative_sigma > 0 || cfg.read_noise.absolute_sigma_s > 0)
    throw InputError(std::string("key ") + (cfg.read_noise.relative_sigma > 0 ? "read-noise-sigma" : "read-noise-sigma-s") +
                     ": read noise is modelled as a spread of each cell's conductance, and a flash cell holds a "
                     "threshold voltage (its read-to-read noise is not modelled); drop the key for cell = flash");
}

void refuse_conductance_programming(const devices::ProgrammingOptions& p) {
  const char* key = nullptr;
  if (p.levels.levels != 0) key = "levels";
  else if (!p.levels.table_s.empty()) key = "level-table";
  else if (p.variation.model != devices::VariationModel::kNone) key = "variation";
  else if (p.variation.relative_sigma > 0) key = "variation-sigma";
  else if (p.variation.absolute_sigma_s > 0) key = "variation-sigma-s";
  else if (p.stuck.uses_mask()) key = "stuck-mask";
  else if (p.stuck.stuck_on_rate > 0) key = "stuck-on-rate";
  else if (p.stuck.stuck_off_rate > 0) key = "stuck-off-rate";
  else if (p.drift.enabled()) key = "drift-time";
  if (key)
    throw InputError(std::string("key ") + key + ": a conductance programming stage, and flash cells are programmed "
                     "by program-verify of their thresholds (their spread: --pv-sigma, --pv-tol, --flash-erase-sigma; "
                     "cells failing to verify are reported; charge loss: --retention-*); drop it for cell = flash");
}

RowMatrixXd read_thresholds(const RunConfig& cfg, json& source) {
  io::NpyArray arr = io::read_npy(cfg.vth_path);
  io::require_shape(arr, cfg.vth_path, "threshold voltages --vth", {{"M", "N"}, {io::kAnyExtent, io::kAnyExtent}});
  io::require_finite(arr, cfg.vth_path, "threshold voltage");
  const int64_t m = arr.shape[0], n = arr.shape[1];
  if (m < 1 || n < 1)
    throw InputError(cfg.vth_path + ": threshold matrix has shape " + io::shape_to_string(arr.shape) +
                     ", expected at least 1 row and 1 column");
  if (cfg.rows_given && m != cfg.spec.rows)
    throw InputError("key rows = " + std::to_string(cfg.spec.rows) + " disagrees with --vth '" + cfg.vth_path +
                     "', which has M = " + std::to_string(m) + " rows");
  if (cfg.cols_given && n != cfg.spec.cols)
    throw InputError("key cols = " + std::to_string(cfg.spec.cols) + " disagrees with --vth '" + cfg.vth_path +
                     "', which has N = " + std::to_string(n) + " columns");
  source = {{"kind", "file"}, {"path", cfg.vth_path}, {"dtype", arr.dtype}, {"values", "threshold voltages V_th [V]"}};
  return Eigen::Map<const RowMatrixXd>(arr.data.data(), m, n);
}

FlashThresholds flash_thresholds(const RunConfig& cfg, const devices::FlashCell& cell, const RowMatrixXd& values,
                                 bool are_targets, const std::string& targets_from) {
  FlashThresholds t;
  if (are_targets) {
    const bool current = cfg.flash_target == devices::FlashTarget::kReadCurrent;
    for (Eigen::Index i = 0; i < values.rows(); ++i)
      for (Eigen::Index j = 0; j < values.cols(); ++j)
        if (!(values(i, j) > 0))
          throw InputError(targets_from + ": flash target [" + std::to_string(i) + ", " + std::to_string(j) +
                           "] = " + format_number(values(i, j)) + (current ? " A" : " S") +
                           ": program-verify needs targets > 0 (" +
                           (current ? "read currents, amperes" : "conductance-equivalent, siemens") + ")");
    devices::FlashProgramOptions po = cfg.flash_program;
    po.seed = cfg.seed;
    po.v_read_v = cfg.v_read_v;
    auto r = std::make_shared<devices::FlashProgramResult>(devices::program_flash(cell, values, cfg.flash_target, po));
    t.vth_v = r->vth_v;
    t.json["thresholds"] = "program-verify of the targets (" + targets_from + ")";
    t.json["program"] = flash_program_json(po, cfg.flash_target, r->stats);
    t.programmed = std::move(r);
  } else {
    t.vth_v = values;
    t.json["thresholds"] = "as given (--vth)";
  }
  t.retention = devices::apply_retention(t.vth_v, cfg.retention, cfg.seed);
  t.json["retention"] = retention_json(cfg.retention, t.retention);
  return t;
}

json flash_program_json(const devices::FlashProgramOptions& o, devices::FlashTarget target,
                        const devices::FlashProgramStats& st) {
  return {{"options",
           {{"target", devices::to_string(target)},
            {"v_read_v", o.v_read_v},
            {"erase_vth_v", o.erase_vth_v},
            {"erase_sigma_v", o.erase_sigma_v},
            {"pv_step_v", o.pv_step_v},
            {"pv_sigma_v", o.pv_sigma_v},
            {"pv_tol", o.pv_tol},
            {"pv_max_pulses", o.pv_max_pulses}}},
          {"realised",
           {{"seed", st.seed},
            {"rows", st.rows},
            {"cols", st.cols},
            {"verified", st.verified},
            {"overshoot", st.overshoot},
            {"pulse_limit", st.pulse_limit},
            {"above_erased", st.above_erased},
            {"pulses_total", st.pulses_total},
            {"pulses_mean", st.pulses_mean},
            {"pulses_max", st.pulses_max},
            {"pulses_clipped", st.pulses_clipped},
            {"vth_min_v", st.vth_min_v},
            {"vth_max_v", st.vth_max_v},
            {"read_rel_error_max_verified", st.read_rel_error_max},
            {"message", st.message}}}};
}

json retention_json(const devices::RetentionOptions& o, const devices::RetentionStats& st) {
  return {{"options",
           {{"time_s", o.time_s}, {"tau_s", o.tau_s}, {"alpha_v", o.alpha_v}, {"alpha_sigma_v", o.alpha_sigma_v}}},
          {"law", "dV_th = -alpha ln(1 + t / tau), alpha per cell (clipped at 0)"},
          {"realised",
           {{"cells", st.cells},
            {"alpha_clipped_at_zero", st.alpha_clipped_at_zero},
            {"alpha_mean_realised_v", st.alpha_mean_realised_v},
            {"shift_mean_v", st.shift_mean_v},
            {"shift_min_v", st.shift_min_v}}}};
}

json regions_json(const solvers::CellRegions& r) {
  json counts = json::object(), fractions = json::object();
  int64_t total = 0;
  for (const int64_t c : r.counts) total += c;
  for (size_t q = 0; q < r.names.size(); ++q) {
    counts[r.names[q]] = r.counts[q];
    fractions[r.names[q]] = total > 0 ? double(r.counts[q]) / double(total) : 0.0;
  }
  return {{"names", r.names},
          {"counts", counts},
          {"fractions", fractions},
          {"inputs", r.region.rows()},
          {"cells", r.region.cols()},
          {"counted_over", "every cell for every input"}};
}

}  // namespace xbar::engine::commands::detail
