#include "engine/nn/hardware_layer.h"

#include <cblas.h>
#include <sys/stat.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <thread>

#include "calib/effective.h"
#include "calib/nonlinear_compensation.h"
#include "devices/random_stream.h"
#include "devices/stuck_at.h"
#include "engine/nn/map_cache.h"
#include "solvers/lazy_libraries.h"
#include "solvers/library_threads.h"
#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Smallest ADC range and DAC full-scale input accepted (a tile or layer that never saw a
// non-zero value gets this instead of a zero range).
constexpr double kMinRangeA = 1e-18;
constexpr double kMinInput = 1e-12;

// OpenBLAS's thread count (solvers/library_threads.h; 0 with another BLAS, whose dgemm is then
// single-threaded anyway). The batches of an evaluation run on our own threads, one dgemm each:
// OpenBLAS's own threads inside them would only oversubscribe the cores. BLAS is opened first
// (solvers/lazy_libraries.h), so the count read is OpenBLAS's own.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    solvers::load_blas_library();
    saved_ = solvers::blas_thread_count();
    if (saved_ > 1) solvers::set_blas_threads(1);
  }
  ~SingleThreadedBlas() {
    if (saved_ > 1) solvers::set_blas_threads(saved_);
  }

 private:
  int saved_ = 0;
};

// c = v[:, col0 : col0 + cols] * b through BLAS dgemm (Debian's libblas3 alternative: OpenBLAS,
// whose runtime-dispatched AVX2 kernels are ~3x Eigen's portable -O2 SSE2 product here).
void product(const RowMatrixXd& v, int64_t col0, int64_t cols, const RowMatrixXd& b, RowMatrixXd& c) {
  if (c.size() == 0) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(v.rows()), int(b.cols()), int(cols), 1.0,
              v.data() + col0, int(v.cols()), b.data(), int(b.cols()), 0.0, c.data(), int(c.cols()));
}

// b-bit two's-complement quantizer over +-range: 2^b levels k D - 2^(b-1) D with a level at 0
// (devices/quantizer.h), D = range / (2^(b-1) - 1).
devices::UniformQuantizer signed_adc(int bits, double range_a) {
  const double half = std::ldexp(1.0, bits - 1);
  const double step = range_a / (half - 1);
  return devices::UniformQuantizer(bits, -half * step, (half - 1) * step);
}

// The largest compensation scale of a tile's outputs (its gains over a).
double tile_scale_max(const TileState& t) {
  if (t.gain_s.empty() || !(t.target.g_per_weight_s > 0)) return t.scale;
  return *std::max_element(t.gain_s.begin(), t.gain_s.end()) / t.target.g_per_weight_s;
}

json counts_json(const devices::QuantizeCounts& c) {
  return {{"values", c.values}, {"clipped_low", c.clipped_low}, {"clipped_high", c.clipped_high}};
}

// True on the workers of a for_each_batch that runs several batches at once: the cores are
// taken, so HardwareLayer::mvm keeps its tiles on the calling thread.
thread_local bool in_parallel_batches = false;

}  // namespace

const char* to_string(HardwareMode m) {
  switch (m) {
    case HardwareMode::kIdeal: return "ideal";
    case HardwareMode::kUncompensated: return "uncompensated";
    case HardwareMode::kCompensated: return "compensated";
  }
  return "?";
}

HardwareMode parse_hardware_mode(const std::string& s) {
  if (s == "ideal") return HardwareMode::kIdeal;
  if (s == "uncompensated") return HardwareMode::kUncompensated;
  if (s == "compensated") return HardwareMode::kCompensated;
  throw InputError("key mode = '" + s + "': expected ideal, uncompensated or compensated");
}

void HardwareOptions::validate() const {
  mapping.validate();
  netlists::CrossbarSpec s = wires;
  s.rows = s.cols = 2;
  s.validate();
  devices::make_cell_model(cell, cell_params);
  devices::ProgrammingOptions p = programming;
  p.range = mapping.range;
  p.validate();
  if (p.stuck.uses_mask())
    throw InputError("key stuck-mask: a defect map describes one array; the network's tiles draw their "
                     "defects from --stuck-on-rate / --stuck-off-rate");
  read_noise.validate();
  if (read_noise.absolute_sigma_s > 0)
    throw InputError("key read-noise-sigma-s: network evaluation takes the relative --read-noise-sigma only");
  if (dac_bits < 0 || dac_bits > devices::kMaxQuantizerBits)
    throw InputError("key dac-bits = " + std::to_string(dac_bits) + ": must be 0 (unlimited) .. " +
                     std::to_string(devices::kMaxQuantizerBits));
  if (adc_bits != 0 && (adc_bits < 2 || adc_bits > devices::kMaxQuantizerBits))
    throw InputError("key adc-bits = " + std::to_string(adc_bits) + ": must be 0 (unlimited) or 2 .. " +
                     std::to_string(devices::kMaxQuantizerBits) + " (a signed ADC needs a sign bit)");
  if (!(v_read_v > 0) || !std::isfinite(v_read_v))
    throw InputError("key v-read = " + format_number(v_read_v) + ": must be finite and > 0 V (the DAC full scale)");
  if (!(adc_i_max_a >= 0) || !std::isfinite(adc_i_max_a))
    throw InputError("key adc-i-max = " + format_number(adc_i_max_a) + ": must be finite and >= 0 A (0 = calibrated per tile)");
  calib::CompensationOptions c = comp;
  c.range = mapping.range;
  c.validate();
  if (!map_cache.empty()) {
    if (!linear_cells())
      throw InputError("key map-cache: only linear cells' maps are cached (cell = " + cell +
                       " builds its map from Newton solves of the cell model); leave map-cache out");
    struct stat st {};
    if (::stat(map_cache.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
      throw InputError("key map-cache = '" + map_cache + "': exists and is not a directory");
  }
  if (defect_aware && mapping.encoding != WeightEncoding::kDifferential)
    throw InputError("key defect-aware: needs --weight-encoding differential (an offset tile's reference column "
                     "is shared by every weight of the tile, so no single partner can absorb a defect)");
  if (solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: network evaluation needs a native back end (effective matrices, Newton)");
  if (threads < 1 || threads > 256) throw InputError("key threads = " + std::to_string(threads) + ": must be 1 .. 256");
  if (flash_cells()) validate_flash_tiles(*this);
}

std::string compensation_scale(const HardwareOptions& o) {
  if (!o.comp.scale_per_column) return "auto: one scale per tile";
  if (!o.linear_cells()) return "auto: one scale per tile (per-column scales need linear cells)";
  if (o.mapping.encoding == WeightEncoding::kOffset)
    return "auto: one scale per tile (offset encoding: the reference column is subtracted before the ADC)";
  return "per-column: one scale per differential pair";
}

HardwareLayer::HardwareLayer(std::string name, RowMatrixXd w, const HardwareOptions& options, HardwareMode mode,
                             uint64_t layer_seed)
    : name_(std::move(name)), w_(std::move(w)), o_(options), mode_(mode), layer_seed_(layer_seed) {
  o_.validate();
  o_.comp.range = o_.mapping.range;
  o_.programming.range = o_.mapping.range;
  cell_ = devices::make_cell_model(o_.cell, o_.cell_params);
  flash_ = std::dynamic_pointer_cast<const devices::FlashCell>(cell_);
  const std::vector<TilePlan> plans = plan_tiles(w_.rows(), w_.cols(), o_.mapping);
  tiles.resize(plans.size());
  for (size_t t = 0; t < plans.size(); ++t) {
    tiles[t].plan = plans[t];
    tiles[t].seed = devices::derive_seed(layer_seed, t);
  }
}

void HardwareLayer::build_tile(size_t k) {
  TileState& t = tiles.at(k);
  const TilePlan& p = t.plan;
  const RowMatrixXd w = w_.block(p.row0, p.out0, p.rows, p.outs);
  const devices::ConductanceRange& r = o_.mapping.range;
  netlists::CrossbarSpec spec = o_.wires;
  spec.rows = p.rows;
  spec.cols = p.phys_cols;
  const bool ideal = mode_ == HardwareMode::kIdeal;
  RowMatrixXd g_to_program;
  if (mode_ == HardwareMode::kCompensated) {
    const auto tc = std::chrono::steady_clock::now();
    compensate_tile(t, spec);
    t.compensation_s = seconds_since(tc);
    g_to_program = t.g_programmed;  // the map
  } else {
    t.target = map_tile(w, o_.mapping.encoding, r.g_min_s, r.g_max_s);
    t.scale = 1.0;
    t.gain_s.assign(size_t(p.outs), t.target.g_per_weight_s);
    g_to_program = t.target.g_s;
  }
  if (ideal) {
    t.g_programmed = t.target.g_s;
    t.t_signed = signed_columns(t.target.g_s, o_.mapping.encoding, p.outs);
    return;
  }
  auto tp = std::chrono::steady_clock::now();
  if (flash_) {  // thresholds by program-verify; no conductance stage, effective matrix or read noise
    program_flash_tile(t, g_to_program, o_, *flash_);
    t.program_s = seconds_since(tp);
    return;
  }
  devices::ProgrammingOptions po = o_.programming;
  po.seed = t.seed;
  if (o_.defect_aware && po.stuck.enabled()) {
    // The mask programming will draw (same options, same seed: devices/stuck_at.h).
    const devices::StuckMask mask = devices::place_stuck_cells(p.rows, p.phys_cols, po.stuck, po.seed);
    adjust_partners(g_to_program, mask, t);
  }
  devices::ProgrammingResult pr = devices::program_conductances(g_to_program, po);
  t.g_programmed = std::move(pr.g_s);
  t.programming = std::move(pr.stats);
  t.program_s = seconds_since(tp);
  if (o_.linear_cells()) {
    calib::Effective e = calib::effective_matrix(spec, t.g_programmed, o_.solver);
    t.t_signed = signed_columns(e.t, o_.mapping.encoding, p.outs);
    t.effective_s = e.seconds;
  }
  if (o_.read_noise.enabled()) {
    const RowMatrixXd g2 = t.g_programmed.cwiseAbs2();
    const double s2 = o_.read_noise.relative_sigma * o_.read_noise.relative_sigma;
    t.noise_var.resize(p.rows, p.outs);
    for (int64_t j = 0; j < p.outs; ++j)
      t.noise_var.col(j) = s2 * (o_.mapping.encoding == WeightEncoding::kDifferential
                                     ? RowMatrixXd(g2.col(2 * j) + g2.col(2 * j + 1))
                                     : RowMatrixXd(g2.col(j) + g2.col(p.outs)));
  }
}

void HardwareLayer::adjust_partners(RowMatrixXd& g, const devices::StuckMask& mask, TileState& t) const {
  const devices::ConductanceRange& r = o_.mapping.range;
  auto stuck_value = [&](uint8_t m) {
    return m == uint8_t(devices::CellState::kStuckOn) ? r.g_max_s : r.g_min_s;
  };
  for (int64_t i = 0; i < g.rows(); ++i)
    for (int64_t j = 0; j < t.plan.outs; ++j) {
      const int64_t a = 2 * j, b = 2 * j + 1;
      const bool sa = mask(i, a) != uint8_t(devices::CellState::kHealthy);
      const bool sb = mask(i, b) != uint8_t(devices::CellState::kHealthy);
      if (sa && sb) {
        ++t.pairs_both_stuck;
      } else if (sa || sb) {
        const int64_t s = sa ? a : b, h = sa ? b : a;
        const double want = g(i, h) + (stuck_value(mask(i, s)) - g(i, s));
        const double clipped = r.clip(want);
        t.partners_clipped += clipped != want;
        ++t.partners_adjusted;
        g(i, h) = clipped;
      }
    }
}

void HardwareLayer::compensate_tile(TileState& t, const netlists::CrossbarSpec& spec) {
  if (flash_) {
    const TilePlan& p = t.plan;
    compensate_flash_tile(t, spec, w_.block(p.row0, p.out0, p.rows, p.outs), o_, flash_, name_);
    return;
  }
  if (!o_.linear_cells()) {
    compensate_nonlinear_tile(t, spec);
    return;
  }
  const TilePlan& p = t.plan;
  const devices::ConductanceRange& r = o_.mapping.range;
  const bool differential = o_.mapping.encoding == WeightEncoding::kDifferential;
  // Floor g_min: the map lifts, per row and group, only the cells that need it.
  t.target = map_tile(w_.block(p.row0, p.out0, p.rows, p.outs), o_.mapping.encoding, r.g_min_s, r.g_max_s);
  // The columns subtracted before the ADC share a scale and a floor: a differential pair, or an
  // offset tile's columns with their reference.
  std::vector<int32_t> groups(size_t(p.phys_cols), 0);
  if (differential)
    for (int64_t j = 0; j < p.phys_cols; ++j) groups[size_t(j)] = int32_t(j / 2);
  calib::CompensationOptions co = o_.comp;
  co.range = r;
  co.scale_auto = true;
  co.scale_groups = co.scale_per_column ? groups : std::vector<int32_t>();
  co.lift_groups = groups;
  bool loaded = false;
  calib::Compensation c = o_.map_cache.empty()
                              ? calib::compensate(spec, t.target.g_s, co, o_.solver)
                              : MapCache(o_.map_cache).compensate(spec, t.target.g_s, co, o_.solver, &loaded);
  t.map_from_cache = loaded;
  t.comp_iterations = c.iterations;
  t.gain_s.resize(size_t(p.outs));
  for (int64_t q = 0; q < p.outs; ++q)
    t.gain_s[size_t(q)] = c.column_scales[size_t(differential ? 2 * q : q)] * t.target.g_per_weight_s;
  t.lifted_cells = c.lifted_cells;
  t.max_lift_s = c.max_lift_s;
  t.take_compensation(std::move(c));
}

void HardwareLayer::compensate_nonlinear_tile(TileState& t, const netlists::CrossbarSpec& spec) {
  const TilePlan& p = t.plan;
  calib::CompensationOptions co = o_.comp;
  co.range = o_.mapping.range;
  co.scale_auto = true;
  co.scale_per_column = false;  // one global scale, no in-map floor (nonlinear_compensation.h)
  co.scale_groups.clear();
  co.lift_groups.clear();
  const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(p.rows, o_.v_read_v);
  compensate_lifting_floor(t, w_.block(p.row0, p.out0, p.rows, p.outs), o_, 1.0,
                           [&](const RowMatrixXd& g_target, int) {
                             return calib::compensate_nonlinear(spec, g_target, cell_, v_op, co, o_.solver);
                           });
}

void compensate_lifting_floor(TileState& t, const RowMatrixXd& w, const HardwareOptions& o, double target_unit,
                              const std::function<calib::Compensation(const RowMatrixXd& g_target, int attempt)>& map) {
  const devices::ConductanceRange& r = o.mapping.range;
  double floor_s = std::min(r.g_min_s * (1 + kLiftMargin), 0.5 * (r.g_min_s + r.g_max_s));
  calib::Compensation c;
  for (int attempt = 1;; ++attempt) {
    t.target = map_tile(w, o.mapping.encoding, floor_s, r.g_max_s);
    c = map(t.target.g_s, attempt);
    t.comp_iterations += c.iterations;
    t.lift_attempts = attempt;
    double miss = 0;
    for (Eigen::Index k = 0; k < c.t.size(); ++k)
      if (c.status.data()[k] == uint8_t(calib::CellStatus::kNeedsBelowMin))
        miss = std::max(miss, std::abs(c.t.data()[k] - c.scale * t.target.g_s.data()[k] * target_unit));
    t.floor_miss_rel = miss / (c.scale * t.target.g_s.maxCoeff() * target_unit);
    if (t.floor_miss_rel <= kFloorMissRel || attempt == kMaxLiftAttempts) break;
    const double next = std::max(floor_s * (1 + kLiftMargin), r.g_min_s * (1 + kLiftMargin) / c.scale);
    if (next >= 0.5 * (r.g_min_s + r.g_max_s)) break;  // no room left to lift into
    floor_s = next;
  }
  t.gain_s.assign(size_t(t.plan.outs), c.scale * t.target.g_per_weight_s);
  t.take_compensation(std::move(c));
}

void TileState::take_compensation(calib::Compensation&& c) {
  scale = c.scale;
  needs_above_max = c.needs_above_max;
  needs_below_min = c.needs_below_min;
  comp_converged = c.converged;
  comp_residual = c.residual_rel;
  comp_message = std::move(c.message);
  comp_scale_fallback = std::move(c.scale_fallback);
  g_programmed = std::move(c.g_s);
}

void HardwareLayer::set_input_full_scale(double x_max) { this->x_max = std::max(x_max, kMinInput); }

void HardwareLayer::set_adc_ranges(const std::vector<double>& max_abs_a) {
  XBAR_EXPECTS(max_abs_a.size() == tiles.size(), "HardwareLayer::set_adc_ranges: one range per tile");
  for (size_t t = 0; t < tiles.size(); ++t) {
    TileState& ts = tiles[t];
    ts.calib_max_a = max_abs_a[t];
    ts.adc_range_a = o_.adc_i_max_a > 0 ? o_.adc_i_max_a : std::max(ts.calib_max_a, kMinRangeA);
  }
}

LayerCallStats HardwareLayer::new_stats() const {
  LayerCallStats s;
  s.adc.resize(tiles.size());
  s.max_abs_a.assign(tiles.size(), 0.0);
  return s;
}

RowMatrixXd HardwareLayer::mvm(RowMatrixXd& x, uint64_t batch_index, bool calibrating, LayerCallStats& stats) const {
  XBAR_EXPECTS(x.cols() == fan_in(), "HardwareLayer::mvm: inputs must have fan_in columns");
  XBAR_EXPECTS(stats.adc.size() == tiles.size() && stats.max_abs_a.size() == tiles.size(),
               "HardwareLayer::mvm: stats from new_stats() of this layer");
  const bool ideal = mode_ == HardwareMode::kIdeal;
  const double volts_per_unit = o_.v_read_v / x_max;
  RowMatrixXd& v = x;  // scaled to volts in place (the caller's scratch copy)
  v *= volts_per_unit;
  if (o_.dac_bits > 0 && !ideal)
    stats.dac += devices::UniformQuantizer(o_.dac_bits, 0.0, o_.v_read_v).quantize_in_place(v);
  const bool newton = !ideal && !o_.linear_cells();
  const bool noisy = !ideal && o_.read_noise.enabled();
  const bool quantize = !ideal && o_.adc_bits > 0 && !calibrating;
  RowMatrixXd y = RowMatrixXd::Zero(x.rows(), fan_out());
  // Nonlinear tiles: every tile's Newton solves first, on up to o_.threads threads when no
  // other batch runs beside this one (evaluate's default 100 images are one batch), each
  // tile's answer the same whichever thread solves it; the rest below in tile order.
  std::vector<RowMatrixXd> solved(newton ? tiles.size() : 0);
  if (newton) {
    auto solve_tile = [&](size_t k) {
      const TilePlan& p = tiles[k].plan;
      netlists::CrossbarSpec spec = o_.wires;
      spec.rows = p.rows;
      spec.cols = p.phys_cols;
      solved[k] = signed_currents(
          calib::array_currents(spec, flash_ ? tiles[k].flash.vth_v : tiles[k].g_programmed, cell_,
                                v.middleCols(p.row0, p.rows), o_.solver),
          o_.mapping.encoding, p.outs);
    };
    const size_t n = in_parallel_batches ? 1 : std::min<size_t>(size_t(std::max(o_.threads, 1)), tiles.size());
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    // One OpenMP thread per tile worker (CHOLMOD's batched substitutions take OpenMP's budget).
    const int caller_omp_threads = omp_get_max_threads();
    auto worker = [&](bool spawned) {
      if (n > 1 || spawned) omp_set_num_threads(1);
      for (size_t k; (k = next++) < tiles.size();) {
        try {
          solve_tile(k);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          next = tiles.size();
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t k = 1; k < n; ++k) pool.emplace_back(worker, true);
    worker(false);
    omp_set_num_threads(caller_omp_threads);
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
  }
  for (size_t k = 0; k < tiles.size(); ++k) {
    const TileState& t = tiles[k];
    const TilePlan& p = t.plan;
    const auto vt = v.middleCols(p.row0, p.rows);
    RowMatrixXd id;
    if (newton) {
      id = std::move(solved[k]);
    } else {
      id.resize(vt.rows(), p.outs);
      product(v, p.row0, p.rows, t.t_signed, id);
    }
    if (noisy) {
      const RowMatrixXd var = vt.cwiseAbs2() * t.noise_var;
      devices::RandomStream rng(devices::derive_seed(devices::stage_seed(t.seed, devices::SeedStage::kReadNoise),
                                                     batch_index));
      for (Eigen::Index q = 0; q < id.size(); ++q) id.data()[q] += std::sqrt(var.data()[q]) * rng.normal();
    }
    // Output q's gain g_q; with calibrated ADC ranges (range_q = R g_q / g_top, header step 4)
    // the currents are referred to the largest gain g_top, so one quantizer over +-R serves
    // every output (exactly: a uniform quantizer scales with its range). Equal gains refer
    // by a factor of exactly 1.
    const Eigen::Map<const Eigen::ArrayXd> gain(t.gain_s.data(), p.outs);
    const bool refer = o_.adc_i_max_a <= 0;
    const double g_top = refer && p.outs ? gain.maxCoeff() : 1.0;
    if (refer) id.array().rowwise() *= (g_top / gain).transpose();
    if (calibrating && id.size()) stats.max_abs_a[k] = std::max(stats.max_abs_a[k], id.cwiseAbs().maxCoeff());
    if (quantize) stats.adc[k] += signed_adc(o_.adc_bits, t.adc_range_a).quantize_in_place(id.data(), id.size());
    if (refer)
      y.middleCols(p.out0, p.outs) += id / (g_top * volts_per_unit);
    else
      y.middleCols(p.out0, p.outs).array() += id.array().rowwise() / (gain * volts_per_unit).transpose();
  }
  return y;
}

void HardwareLayer::merge(const LayerCallStats& s) {
  XBAR_EXPECTS(s.adc.size() == tiles.size(), "HardwareLayer::merge: stats from new_stats() of this layer");
  dac_counts += s.dac;
  for (size_t t = 0; t < tiles.size(); ++t) tiles[t].adc_counts += s.adc[t];
}

json HardwareLayer::summary_json(bool per_tile) const {
  devices::QuantizeCounts adc;
  int64_t stuck_on = 0, stuck_off = 0, above = 0, below = 0, iters = 0, adjusted = 0, adj_clipped = 0, both = 0,
          unconverged = 0, fell_back = 0, cached = 0;
  double s_min = 1, s_max = 0, prog_s = 0, eff_s = 0, comp_s = 0;
  json tile_list = json::array();
  for (const TileState& t : tiles) {
    adc += t.adc_counts;
    stuck_on += t.programming.stuck.stuck_on;
    stuck_off += t.programming.stuck.stuck_off;
    above += t.needs_above_max;
    below += t.needs_below_min;
    iters += t.comp_iterations;
    cached += t.map_from_cache;
    unconverged += !t.comp_converged;
    fell_back += !t.comp_scale_fallback.empty();
    adjusted += t.partners_adjusted;
    adj_clipped += t.partners_clipped;
    both += t.pairs_both_stuck;
    const double t_s_max = tile_scale_max(t);
    s_min = std::min(s_min, t.scale);
    s_max = std::max(s_max, t_s_max);
    prog_s += t.program_s;
    eff_s += t.effective_s;
    comp_s += t.compensation_s;
    if (!per_tile) continue;
    json tj = {{"row_tile", t.plan.row_tile},
               {"col_tile", t.plan.col_tile},
               {"inputs", {t.plan.row0, t.plan.row0 + t.plan.rows}},
               {"outputs", {t.plan.out0, t.plan.out0 + t.plan.outs}},
               {"array", {t.plan.rows, t.plan.phys_cols}},
               {"seed", t.seed},
               {"w_max", t.target.w_max},
               {"g_per_weight_s", t.target.g_per_weight_s},
               {o_.mapping.encoding == WeightEncoding::kDifferential ? "g_floor_s" : "g_reference_s", t.target.g_low_s},
               {"scale", t.scale},
               {"scale_max", t_s_max},
               {"gain_s", t.gain_s},
               {"adc_range_a", t.adc_range_a},
               {"calibration_max_a", t.calib_max_a},
               {"adc", counts_json(t.adc_counts)},
               {"times_s", {{"program_s", t.program_s}, {"effective_s", t.effective_s}, {"compensation_s", t.compensation_s}}}};
    if (mode_ != HardwareMode::kIdeal && !flash_)  // flash: program-verify instead (below)
      tj["programming"] = {{"stuck_on", t.programming.stuck.stuck_on},
                           {"stuck_off", t.programming.stuck.stuck_off},
                           {"targets_clipped_low", t.programming.targets_clipped_low},
                           {"targets_clipped_high", t.programming.targets_clipped_high},
                           {"variation_clipped_low", t.programming.variation.clipped_low},
                           {"variation_clipped_high", t.programming.variation.clipped_high},
                           {"total_rel_error_sigma", t.programming.total_rel_error_sigma}};
    if (o_.defect_aware && mode_ != HardwareMode::kIdeal)
      tj["defect_aware"] = {{"partners_adjusted", t.partners_adjusted}, {"partners_clipped", t.partners_clipped},
                            {"pairs_both_stuck", t.pairs_both_stuck}};
    if (flash_ && mode_ != HardwareMode::kIdeal) tj["flash"] = flash_tile_json(t.flash);
    if (mode_ == HardwareMode::kCompensated) {
      tj["compensation"] = {{"iterations", t.comp_iterations},
                            {"needs_above_max", t.needs_above_max}, {"needs_below_min", t.needs_below_min},
                            {"converged", t.comp_converged}, {"residual_rel", t.comp_residual},
                            {"message", t.comp_message}};
      if (!t.comp_scale_fallback.empty()) tj["compensation"]["scale_fallback"] = t.comp_scale_fallback;
      if (!o_.map_cache.empty()) tj["compensation"]["from_map_cache"] = t.map_from_cache;
      if (o_.linear_cells()) {
        tj["compensation"]["lifted_cells"] = t.lifted_cells;
        tj["compensation"]["max_lift_s"] = t.max_lift_s;
      } else {
        tj["compensation"]["floor_attempts"] = t.lift_attempts;
        tj["compensation"]["floor_miss_rel"] = t.floor_miss_rel;
      }
    }
    tile_list.push_back(tj);
  }
  json lj = {{"layer", name_},
             {"weights", {fan_in(), fan_out()}},
             {"tiles", tiles.size()},
             {"dac_input_full_scale", x_max},
             {"dac", counts_json(dac_counts)},
             {"adc", counts_json(adc)},
             {"times_s", {{"program_s", prog_s}, {"effective_s", eff_s}, {"compensation_s", comp_s}}}};
  if (mode_ != HardwareMode::kIdeal) lj["stuck"] = {{"on", stuck_on}, {"off", stuck_off}};
  if (o_.defect_aware && mode_ != HardwareMode::kIdeal)
    lj["defect_aware"] = {{"partners_adjusted", adjusted}, {"partners_clipped", adj_clipped}, {"pairs_both_stuck", both}};
  if (mode_ == HardwareMode::kCompensated)
    lj["compensation"] = {{"scale", compensation_scale(o_)}, {"scale_min", s_min}, {"scale_max", s_max},
                          {"iterations", iters}, {"needs_above_max", above}, {"needs_below_min", below},
                          {"not_converged_tiles", unconverged}, {"one_scale_fallback_tiles", fell_back}};
  if (mode_ == HardwareMode::kCompensated && !o_.map_cache.empty())
    lj["compensation"]["maps_from_cache"] = cached;
  if (flash_ && mode_ != HardwareMode::kIdeal) lj["flash"] = flash_layer_json(tiles);
  if (per_tile) lj["tile_list"] = tile_list;
  return lj;
}

double build_layers(const std::vector<HardwareLayer*>& layers, int threads, HardwareMode mode,
                    const HardwareLayer::Progress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::pair<HardwareLayer*, size_t>> jobs;  // (layer, tile)
  for (HardwareLayer* l : layers)
    for (size_t t = 0; t < l->tiles.size(); ++t) jobs.emplace_back(l, t);
  const size_t n = std::min<size_t>(size_t(std::max(threads, 1)), jobs.size());
  std::optional<SingleThreadedBlas> single_blas;
  if (n > 1) single_blas.emplace();
  const int caller_omp_threads = omp_get_max_threads();
  std::atomic<size_t> next{0}, done{0};
  std::exception_ptr error;
  std::mutex m;
  auto worker = [&] {
    if (n > 1) omp_set_num_threads(1);
    for (size_t j; (j = next++) < jobs.size();) {
      try {
        jobs[j].first->build_tile(jobs[j].second);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
        next = jobs.size();
      }
      const size_t d = ++done;
      if (progress && mode != HardwareMode::kIdeal && (d % 8 == 0 || d == jobs.size())) {
        std::lock_guard<std::mutex> lock(m);
        progress(std::string(to_string(mode)) + ": " + std::to_string(d) + "/" + std::to_string(jobs.size()) +
                 " tiles programmed and solved (" + std::to_string(int(seconds_since(t0))) + " s)");
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < n; ++k) pool.emplace_back(worker);
  worker();
  omp_set_num_threads(caller_omp_threads);  // the calling thread was a worker too
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return seconds_since(t0);
}

void for_each_batch(int64_t count, int threads, const std::function<void(int64_t, int64_t, uint64_t)>& fn) {
  const SingleThreadedBlas single;
  const int64_t batches = (count + kEvalBatchImages - 1) / kEvalBatchImages;
  const int n = int(std::min<int64_t>(threads, batches));
  const int caller_omp_threads = omp_get_max_threads();
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    // Nonlinear tiles solve batches through CHOLMOD, whose batched substitutions take OpenMP's
    // budget (per thread): with several batches at once, one thread each (as build_layers).
    if (n > 1) omp_set_num_threads(1);
    in_parallel_batches = n > 1;
    for (int64_t b; (b = next++) < batches;) {
      try {
        const int64_t first = b * kEvalBatchImages;
        fn(first, std::min(kEvalBatchImages, count - first), uint64_t(b));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = batches;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < n; ++k) pool.emplace_back(worker);
  worker();
  in_parallel_batches = false;
  omp_set_num_threads(caller_omp_threads);  // the calling thread was a worker too
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace xbar::engine::nn
