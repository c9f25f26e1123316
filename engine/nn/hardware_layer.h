// One crossbar layer on programmed tiles: a fan_in x fan_out weight matrix mapped onto tiles
// (weight_mapping.h), each tile (compensated,) programmed with its non-idealities and solved,
// and the layer's matrix-vector products read through DAC, tiles, read noise and ADC.
// HardwareNetwork (hardware_inference.h) is a list of these; xbar.torch (python/) and the
// TorchScript models of `xbar evaluate` (engine/nn/torchscript_model.cc) run any network's
// Linear and Conv layers on them.
//
//   engine::nn::HardwareLayer l("fc1", w, options, HardwareMode::kCompensated, layer_seed);
//   engine::nn::build_layers({&l}, options.threads, progress);  // program + solve every tile
//   l.set_input_full_scale(x_max);                  // DAC: the largest input (software pass)
//   LayerCallStats s = l.new_stats();
//   l.mvm(x_cal, batch, /*calibrating=*/true, s);   // largest |signed current| per tile
//   l.set_adc_ranges(s.max_abs_a);
//   RowMatrixXd y = l.mvm(x, batch_index, false, s);  // reads x fan_out, bias not included
//   l.merge(s);                                      // DAC / ADC counts into the statistics
//
// Modes (accuracy.json):
//   ideal          no wire, driver or sense resistance, no programming non-ideality, no read
//                  noise, unlimited DAC and ADC bits, linear cells: each tile is exactly its
//                  target G (DESIGN.md's closed form I = G^T v), so the hardware computes the
//                  software product up to rounding;
//   uncompensated  the targets of weight_mapping.h (floor g_min) programmed through the
//                  programming pipeline (devices/programming.h), read through the wires;
//   compensated    the IR-drop compensation map of the targets (calib/compensation.h; below)
//                  programmed instead, same non-idealities.
//
// Per tile, per read (one input vector = one image for a dense layer, one output pixel for a
// convolution):
//   1. DAC: v = x v_read / x_max, quantized to dac_bits over [0, v_read] (x_max: the largest
//      input the layer sees on the calibration images, in software);
//   2. the column currents of the programmed tile: linear cells, I = T^T v with T the exact
//      effective matrix of the tile (calib/effective.h: one factorization per tile, once),
//      folded with the sense subtraction into one rows x outs matrix;
//      nonlinear cells, the tile solved by Newton for every read of the batch at once
//      (calib::array_currents: the reads share one Jacobian, solvers/batched_newton.h; flash
//      cells: of the thresholds they were programmed to, flash_tiles.h), the tiles on up to
//      `threads` threads when no other batch runs beside this one;
//   3. read noise (--read-noise-sigma r): every read sees G (1 + r z) with fresh z per cell. Its
//      effect on a signed output is drawn from its exact distribution for wire-free cells,
//      N(0, r^2 sum_i v_i^2 (G+_ij^2 + G-_ij^2)), one normal per output and read (a first-order
//      model when the wires are not ideal: the noise is not re-solved through the circuit);
//   4. ADC on the signed current of output q (the sense amplifier subtracts before converting),
//      adc_bits two's complement over +-range_q: range_q = --adc-i-max, or, when that is 0,
//      R g_q / g_top with g_q the output's gain (step 5), g_top the tile's largest and R the
//      largest |signed current| of the tile on the calibration images referred to g_top
//      (max over q of |I_q| g_top / g_q; ADC bypassed while calibrating). Every output's ADC
//      then spans the same range of weights: a column pair the map had to attenuate more
//      (a smaller s_q) gets a proportionally smaller current range, as a per-column
//      sense-amplifier gain would give it. Without per-column scales every range_q is R;
//   5. digital: divided by the output's gain g_q v_read / x_max, g_q = s_q a (a:
//      weight_mapping.h; s_q: the compensation scale of the output's columns, 1
//      uncompensated), summed over the row tiles (the bias is the caller's).
//
// Compensation (linear cells): one calib::compensate call per tile on the targets of
// weight_mapping.h with floor g_min, with --scale per-column (the default) one scale per
// differential pair (scale group j / 2) or, offset encoding, one per tile (the reference is
// subtracted in analog, before the ADC), and the in-map floor: a pair's (offset: the tile's)
// cells share a per-row offset f >= 0 that the map raises only where a cell would need less
// than g_min, which leaves every difference, the signal, unchanged. --scale auto: one scale per
// tile. Nonlinear cells (calib/nonlinear_compensation.h: one global scale, no in-map floor):
// the targets are lifted to a floor g_low = (1 + kLiftMargin) g_min first; if the map still
// reports cells below g_min that miss their target by more than kFloorMissRel, the floor is
// raised from the scale the map found and the map rebuilt (at most kMaxLiftAttempts).
//
// Seeds: tile k of a layer programs with derive_seed(layer_seed, k) (every programming stage
// then derives its own stream, devices/random_stream.h); a network's MVM layer l has layer_seed
// derive_seed(seed, l), so the same seed places the same defects and draws the same variation in
// every mode and for every model of the same architecture. Read noise of batch b draws from
// derive_seed(stage_seed(tile seed, kReadNoise), b): a caller that wants the evaluation's noise
// passes the evaluation's batch index (batches of kEvalBatchImages images).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calib/compensation.h"
#include "devices/cell_model.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "engine/nn/flash_tiles.h"
#include "engine/nn/weight_mapping.h"
#include "netlists/crossbar_spec.h"
#include "solvers/circuit_solver.h"

namespace xbar::engine::nn {

using netlists::RowMatrixXd;

enum class HardwareMode { kIdeal, kUncompensated, kCompensated };
const char* to_string(HardwareMode m);
HardwareMode parse_hardware_mode(const std::string& s);  // InputError naming key "mode"

// Nonlinear cells' floor (linear cells have the map's in-map floor instead):
constexpr int kMaxLiftAttempts = 4;
// Relative margin of the floor above g_min / s. A low target next to high ones on the same
// lines can still need less than g_min: with the wire pattern of a 128 x 128 tile at 2.5 ohm,
// a 25% margin left such cells in most tiles (a second map), 50% in none of the tiles tried.
constexpr double kLiftMargin = 0.5;
// A floor is kept when every cell the map still reports below g_min misses its target s G by at
// most this fraction of max(s G): at 50% margin the few such cells (sneak currents of their
// neighbours) miss by ~1e-5 .. 1e-4, far below a 5% programming variation or an 8-bit ADC's
// half LSB (2e-3); a larger miss raises the floor and rebuilds the map.
constexpr double kFloorMissRel = 1e-3;
// Images per evaluation batch: fixed, because the read-noise streams are per batch. 100 keeps the
// largest scratch matrix (conv1's im2col, 100 x 784 reads x 25 doubles = 16 MB) under glibc's
// largest mmap threshold, so batch buffers are reused from the heap instead of being mapped
// and faulted in afresh (0.4-2 s per GB on this VM).
constexpr int64_t kEvalBatchImages = 100;
// The read-noise batch indices of the calibration images start here, far from the evaluation's.
constexpr uint64_t kCalibrationBatchBase = uint64_t(1) << 40;

struct HardwareOptions {
  MappingOptions mapping;          // tiles, encoding, device window
  netlists::CrossbarSpec wires;    // r-row, r-col, r-driver, r-sense, drive, sense (size per tile)
  std::string cell = "linear";     // [key cell]
  devices::CellParams cell_params;
  // Programming non-idealities [keys levels, variation, stuck-*, drift-*]; range and seed are
  // taken from `mapping` and the per-tile seeds.
  devices::ProgrammingOptions programming;
  devices::ReadNoiseOptions read_noise;  // [key read-noise-sigma]; relative sigma only
  // DAC [key dac-bits], 0 = unlimited; full scale v_read_v [key v-read] (the largest layer input).
  int dac_bits = 0;
  double v_read_v = 0.2;
  // ADC [keys adc-bits, adc-i-max]: bits 0 = unlimited; range +-adc_i_max_a, 0 = per tile from
  // the calibration images.
  int adc_bits = 0;
  double adc_i_max_a = 0;
  // Defect-aware pairs [key defect-aware] (differential encoding only): the stuck cells are
  // known before the weights are written (a write-verify pass finds the cells that do not move;
  // here: the same seeded draw programming will make), and the healthy partner of a stuck cell
  // is programmed to keep the pair's difference, G_partner += G_stuck - G_intended, clipped to
  // the window (a stuck-on G+ under a positive weight is then exact; under a negative weight
  // the pair reads about 0 instead of g_max - G-). Default false: the plain mapping.
  bool defect_aware = false;
  // [keys scale, comp-tol, comp-max-iterations]; range from mapping. The tiles' scale is always
  // searched (scale_auto): per output pair by default (scale_per_column), per tile when false;
  // the groups are the encoding's (compensate_tile). Nonlinear cells: per tile.
  calib::CompensationOptions comp = calib::per_column_compensation();
  // [key map-cache] A directory of finished linear maps (map_cache.h): a tile whose map is
  // there (same target, wires, window and options, same xbar version) takes it instead of
  // computing it; every map computed is stored. Empty: no cache.
  std::string map_cache;
  FlashTileOptions flash;           // cell = flash: program-verify and retention (flash_tiles.h)
  solvers::SolverOptions solver;    // [key backend]
  uint64_t seed = 1;                // [key seed]
  int threads = 2;                  // [key threads] batches evaluated in parallel
  void validate() const;            // InputError naming the key
  bool linear_cells() const { return cell == "linear"; }
  bool flash_cells() const { return cell == "flash"; }
};

// The compensation scale the tiles use, for the outputs: "per-column: ..." or "auto: ..." with
// the reason when per-column was asked for but does not apply (nonlinear cells, offset encoding).
std::string compensation_scale(const HardwareOptions& o);

struct TileState {
  TilePlan plan;
  TileTarget target;
  uint64_t seed = 0;
  RowMatrixXd g_programmed;   // rows x phys_cols, what the tile holds (flash: conductance equivalents)
  FlashTileState flash;       // flash: the thresholds the tile holds, program-verify, retention
  RowMatrixXd t_signed;       // linear: rows x outs, signed effective weights (siemens)
  RowMatrixXd noise_var;      // read noise: rows x outs, r^2 (G+^2 + G-^2) (offset: G^2 + Gref^2)
  double scale = 1.0;         // compensation scale: the smallest s_q of the tile's outputs
  std::vector<double> gain_s; // per output q: g_q = s_q a, siemens per unit weight
  // ADC full scale (+-) of the output with the largest gain; output q's is adc_range_a g_q /
  // max(g) with calibrated ranges, adc_range_a with a fixed --adc-i-max (file comment, step 4).
  double adc_range_a = 0;
  double calib_max_a = 0;     // largest |signed current| seen while calibrating, referred to max(g)
  devices::ProgrammingStats programming;
  // Compensation (mode compensated).
  int comp_iterations = 0;
  bool map_from_cache = false;  // the map was loaded from --map-cache (comp_iterations: when it was built)
  int64_t needs_above_max = 0, needs_below_min = 0;
  int64_t lifted_cells = 0;   // linear: cells whose target carries an in-map floor f > 0
  double max_lift_s = 0;      // linear: the largest floor f, siemens (before scaling)
  int lift_attempts = 0;      // nonlinear: maps built (floor raises + 1)
  double floor_miss_rel = 0;  // nonlinear: largest |T - s G| of the cells below g_min, / max(s G)
  bool comp_converged = true;
  double comp_residual = 0;
  std::string comp_message;   // the map's one-line summary
  std::string comp_scale_fallback;  // why per-column scales gave way to one per tile ("" if not)
  // Takes a finished map's outcome (scale, unreachable counts, convergence, message, the map as
  // g_programmed); the caller sets gain_s and what only its kind of map has.
  void take_compensation(calib::Compensation&& c);
  double program_s = 0, effective_s = 0, compensation_s = 0;
  devices::QuantizeCounts adc_counts;
  // Defect-aware pairs: partners reprogrammed, of which clipped to the window; pairs with
  // both cells stuck (nothing to do).
  int64_t partners_adjusted = 0, partners_clipped = 0, pairs_both_stuck = 0;
};

// What a layer reports (summary_json) and what callers read: HardwareNetwork::layers() lists
// its layers as these.
struct LayerState {
  size_t layer = 0;     // the owner's index of the layer (HardwareNetwork: index in Network::layers)
  double x_max = 0;     // DAC full-scale input
  std::vector<TileState> tiles;
  devices::QuantizeCounts dac_counts;
};

// What one mvm call gathers; merged into the layer by its owner (under the owner's lock when
// calls run on several threads).
struct LayerCallStats {
  devices::QuantizeCounts dac;
  std::vector<devices::QuantizeCounts> adc;  // per tile
  std::vector<double> max_abs_a;             // per tile, while calibrating
};

class HardwareLayer : public LayerState {
 public:
  using Progress = std::function<void(const std::string&)>;
  // Plans the tiles of w (fan_in x fan_out, the crossbar's orientation: row i = input i); no
  // tile is programmed until build_tile() / build_layers(). Validates the options (InputError
  // naming the key).
  HardwareLayer(std::string name, RowMatrixXd w, const HardwareOptions& options, HardwareMode mode,
                uint64_t layer_seed);

  const std::string& name() const { return name_; }
  const RowMatrixXd& weights() const { return w_; }
  int64_t fan_in() const { return w_.rows(); }
  int64_t fan_out() const { return w_.cols(); }
  HardwareMode mode() const { return mode_; }
  const HardwareOptions& options() const { return o_; }
  uint64_t layer_seed() const { return layer_seed_; }

  // Maps, (compensates,) programs and solves tile k. Tiles are independent: distinct k may be
  // built on distinct threads at once.
  void build_tile(size_t k);

  // DAC full scale: the largest input the layer sees in software (at least kMinInput).
  void set_input_full_scale(double x_max);
  // ADC ranges: --adc-i-max, or per tile the largest |signed current| seen while calibrating.
  void set_adc_ranges(const std::vector<double>& max_abs_a);

  LayerCallStats new_stats() const;
  // The products of x (reads x fan_in; overwritten: scaled to volts in place) -> reads x
  // fan_out, bias not included. `batch_index` selects the read-noise streams; `calibrating`
  // bypasses the ADC and records each tile's largest |signed current|. Thread-safe (const).
  RowMatrixXd mvm(RowMatrixXd& x, uint64_t batch_index, bool calibrating, LayerCallStats& stats) const;
  // DAC and ADC counts of a call into the layer's statistics (not thread-safe: one at a time).
  void merge(const LayerCallStats& stats);

  // name, weights, tiles, DAC/ADC counts, stuck cells, compensation, times; per_tile adds
  // every tile's entry.
  nlohmann::json summary_json(bool per_tile) const;

 private:
  void compensate_tile(TileState& t, const netlists::CrossbarSpec& spec);
  void compensate_nonlinear_tile(TileState& t, const netlists::CrossbarSpec& spec);
  void adjust_partners(RowMatrixXd& g, const devices::StuckMask& mask, TileState& t) const;

  std::string name_;
  RowMatrixXd w_;
  HardwareOptions o_;
  HardwareMode mode_;
  uint64_t layer_seed_;
  std::shared_ptr<const devices::CellModel> cell_;
  std::shared_ptr<const devices::FlashCell> flash_;  // cell_ when it is the flash cell
};

// Builds every tile of `layers` on `threads` threads (largest layers' tiles interleaved as
// listed), each tile's result the same whichever thread builds it. With more than one thread,
// each tile's solves run on its own thread only: CHOLMOD's batched solves take OpenMP's budget
// (per thread) and its factorization OpenBLAS's (global), and both defaulting to every core put
// 4 threads on 2. Progress lines every 8 tiles (not in ideal mode). Returns the seconds taken.
double build_layers(const std::vector<HardwareLayer*>& layers, int threads, HardwareMode mode,
                    const HardwareLayer::Progress& progress = {});

// A nonlinear tile's map with its floor lifted until it fits (the kMaxLiftAttempts loop above):
// maps w (rows x outs) to targets on a floor from g_min (1 + kLiftMargin), calls
// map(targets, attempt) (a map with one global scale whose c.t holds each cell's measurement in
// units of G times target_unit: 1 for conductances, v-read for currents at the operating input),
// and raises the floor while cells reported below g_min miss their targets by more than
// kFloorMissRel; the finished map goes into t (take_compensation) with one gain per output.
void compensate_lifting_floor(TileState& t, const RowMatrixXd& w, const HardwareOptions& o, double target_unit,
                              const std::function<calib::Compensation(const RowMatrixXd& g_target, int attempt)>& map);

// Runs fn(first image, count, batch index) over the batches of kEvalBatchImages images of a set
// of `count` images on `threads` threads (OpenBLAS single-threaded meanwhile: each batch's dgemm
// on its own thread); the first exception stops the rest and is rethrown.
void for_each_batch(int64_t count, int threads, const std::function<void(int64_t, int64_t, uint64_t)>& fn);

}  // namespace xbar::engine::nn
