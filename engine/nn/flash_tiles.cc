#include "engine/nn/flash_tiles.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "calib/flash_compensation.h"
#include "engine/nn/hardware_layer.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

using nlohmann::json;

namespace {

// The first conductance programming stage set away from its default, or null.
const char* conductance_stage_key(const devices::ProgrammingOptions& p) {
  if (p.levels.levels != 0) return "levels";
  if (!p.levels.table_s.empty()) return "level-table";
  if (p.variation.model != devices::VariationModel::kNone) return "variation";
  if (p.variation.relative_sigma > 0) return "variation-sigma";
  if (p.variation.absolute_sigma_s > 0) return "variation-sigma-s";
  if (p.stuck.uses_mask()) return "stuck-mask";
  if (p.stuck.stuck_on_rate > 0) return "stuck-on-rate";
  if (p.stuck.stuck_off_rate > 0) return "stuck-off-rate";
  if (p.drift.enabled()) return "drift-time";
  return nullptr;
}

}  // namespace

void validate_flash_tiles(const HardwareOptions& o) {
  devices::FlashProgramOptions p = o.flash.program;
  p.v_read_v = o.v_read_v;  // the verify read is the DAC's full scale (checked there too)
  p.validate();
  o.flash.retention.validate();
  if (!(o.mapping.range.g_min_s > 0))
    throw InputError("key g-min = " + format_number(o.mapping.range.g_min_s) +
                     ": flash tiles need g-min > 0 S (the window is in conductance equivalents, and 0 is an "
                     "infinite threshold)");
  if (const char* key = conductance_stage_key(o.programming))
    throw InputError(std::string("key ") + key + ": a conductance programming stage, and flash tiles are programmed "
                     "by program-verify of their thresholds (their spread: --pv-sigma, --pv-tol, --flash-erase-sigma; "
                     "charge loss: --retention-*); drop it for cell = flash");
  if (o.read_noise.relative_sigma > 0)
    throw InputError("key read-noise-sigma: read noise is modelled as a spread of each cell's conductance, and a "
                     "flash cell holds a threshold voltage (its read-to-read noise is not modelled); drop the key "
                     "for cell = flash");
  if (o.defect_aware)
    throw InputError("key defect-aware: defect-aware pairs compensate stuck cells, and flash tiles have none "
                     "(cells that fail program-verify are reported instead); drop the key for cell = flash");
}

void compensate_flash_tile(TileState& t, const netlists::CrossbarSpec& spec, const support::RowMatrix& w,
                           const HardwareOptions& o, std::shared_ptr<const devices::FlashCell> cell,
                           const std::string& layer) {
  const devices::ConductanceRange& r = o.mapping.range;
  calib::CompensationOptions co = o.comp;
  co.range = r;
  co.scale_auto = true;
  co.scale_per_column = false;  // calib::compensate_flash has one scale per array (as the other nonlinear cells)
  co.scale_groups.clear();
  co.lift_groups.clear();
  const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(t.plan.rows, o.v_read_v);
  // c.t holds every cell's current at v_op (amperes); its target is s G v_read (the target
  // thresholds read G v_read at their verify point, which v_op is).
  compensate_lifting_floor(t, w, o, o.v_read_v, [&](const RowMatrixXd& g_target, int attempt) {
    try {
      return calib::compensate_flash(spec, g_target, cell, v_op, o.v_read_v, co, o.solver);
    } catch (const NumericalError& e) {
      // The solver names a node of the tile; say which tile of the layer it is.
      const TilePlan& p = t.plan;
      throw NumericalError("layer " + layer + ": the flash map of the tile of inputs " + std::to_string(p.row0) + ".." +
                           std::to_string(p.row0 + p.rows - 1) + " and outputs " + std::to_string(p.out0) + ".." +
                           std::to_string(p.out0 + p.outs - 1) + " (" + std::to_string(p.rows) + " x " +
                           std::to_string(p.phys_cols) + " cells, floor attempt " + std::to_string(attempt) +
                           "): " + e.what());
    }
  });
}

void program_flash_tile(TileState& t, const support::RowMatrix& g_eq_s, const HardwareOptions& o,
                        const devices::FlashCell& cell) {
  devices::FlashProgramOptions po = o.flash.program;
  po.seed = t.seed;
  po.v_read_v = o.v_read_v;
  devices::FlashProgramResult r = devices::program_flash(cell, g_eq_s, devices::FlashTarget::kConductance, po);
  t.flash.vth_v = std::move(r.vth_v);
  t.flash.program = std::move(r.stats);
  t.flash.retention = devices::apply_retention(t.flash.vth_v, o.flash.retention, t.seed);
  t.g_programmed = calib::flash_conductance_equivalent(cell, t.flash.vth_v, o.v_read_v);
}

json flash_tile_json(const FlashTileState& s) {
  const devices::FlashProgramStats& p = s.program;
  return {{"program",
           {{"verified", p.verified}, {"overshoot", p.overshoot}, {"pulse_limit", p.pulse_limit},
            {"above_erased", p.above_erased}, {"pulses_mean", p.pulses_mean}, {"pulses_max", p.pulses_max},
            {"pulses_clipped", p.pulses_clipped}, {"vth_min_v", p.vth_min_v}, {"vth_max_v", p.vth_max_v},
            {"read_rel_error_max_verified", p.read_rel_error_max}}},
          {"retention",
           {{"cells", s.retention.cells}, {"alpha_clipped_at_zero", s.retention.alpha_clipped_at_zero},
            {"shift_mean_v", s.retention.shift_mean_v}, {"shift_min_v", s.retention.shift_min_v}}}};
}

json flash_layer_json(const std::vector<TileState>& tiles) {
  int64_t cells = 0, verified = 0, overshoot = 0, pulse_limit = 0, above_erased = 0, pulses = 0, shifted = 0;
  int32_t pulses_max = 0;
  double vth_min = HUGE_VAL, vth_max = -HUGE_VAL, err_max = 0, shift_sum = 0, shift_min = 0;
  for (const TileState& t : tiles) {
    const devices::FlashProgramStats& p = t.flash.program;
    cells += p.rows * p.cols;
    verified += p.verified;
    overshoot += p.overshoot;
    pulse_limit += p.pulse_limit;
    above_erased += p.above_erased;
    pulses += p.pulses_total;
    pulses_max = std::max(pulses_max, p.pulses_max);
    vth_min = std::min(vth_min, p.vth_min_v);
    vth_max = std::max(vth_max, p.vth_max_v);
    err_max = std::max(err_max, p.read_rel_error_max);
    shifted += t.flash.retention.cells;
    shift_sum += t.flash.retention.shift_mean_v * double(t.flash.retention.cells);
    shift_min = std::min(shift_min, t.flash.retention.shift_min_v);
  }
  if (cells == 0) return {{"cells", 0}};
  return {{"cells", cells},
          {"program",
           {{"verified", verified}, {"overshoot", overshoot}, {"pulse_limit", pulse_limit},
            {"above_erased", above_erased}, {"failed", overshoot + pulse_limit + above_erased},
            {"pulses_mean", double(pulses) / double(cells)}, {"pulses_max", pulses_max},
            {"vth_min_v", vth_min}, {"vth_max_v", vth_max}, {"read_rel_error_max_verified", err_max}}},
          {"retention",
           {{"cells", shifted}, {"shift_mean_v", shifted ? shift_sum / double(shifted) : 0.0},
            {"shift_min_v", shift_min}}}};
}

json flash_options_json(const HardwareOptions& o) {
  const devices::FlashProgramOptions& p = o.flash.program;
  const devices::RetentionOptions& r = o.flash.retention;
  return {{"values", "threshold voltages V_th, programmed from the conductance-equivalent targets "
                     "(G = I_read / v_read, the verify read at v_read)"},
          {"v_read_v", o.v_read_v},
          {"program",
           {{"erase_vth_v", p.erase_vth_v}, {"erase_sigma_v", p.erase_sigma_v}, {"pv_step_v", p.pv_step_v},
            {"pv_sigma_v", p.pv_sigma_v}, {"pv_tol", p.pv_tol}, {"pv_max_pulses", p.pv_max_pulses},
            {"seeds", "per tile (the tile's seed), erase, pulse and retention streams derived from it"}}},
          {"retention",
           {{"time_s", r.time_s}, {"tau_s", r.tau_s}, {"alpha_v", r.alpha_v}, {"alpha_sigma_v", r.alpha_sigma_v},
            {"law", "dV_th = -alpha ln(1 + t / tau), alpha per cell (clipped at 0)"}}}};
}

}  // namespace xbar::engine::nn
