// Hardware inference: a Network (nn_network.h) programmed onto crossbar tiles and run with every
// matrix-vector product taken from the solved circuit of its tile.
//
//   engine::nn::HardwareOptions o;                         // tiles, wires, devices, DAC/ADC, seed
//   engine::nn::HardwareNetwork hw(net, o, engine::nn::HardwareMode::kCompensated, progress);
//   hw.calibrate(calibration_images);                  // DAC and ADC ranges (training images)
//   RowMatrixXd logits = hw.forward(test_batch, batch_index);
//
// Modes (accuracy.json):
//   ideal          no wire, driver or sense resistance, no programming non-ideality, no read
//                  noise, unlimited DAC and ADC bits, linear cells: each tile is exactly its
//                  target G (DESIGN.md's closed form I = G^T v), so the hardware computes the
//                  software product up to rounding;
//   uncompensated  the targets of weight_mapping.h (floor g_min) programmed through the
//                  programming pipeline (devices/programming.h), read through the wires;
//   compensated    the IR-drop compensation map (calib/compensation.h, --scale auto) of the
//                  lifted targets (below) programmed instead, same non-idealities.
//
// Per tile, per read (one input vector = one image for a dense layer, one output pixel for a
// convolution):
//   1. DAC: v = x v_read / x_max, quantized to dac_bits over [0, v_read] (x_max: the largest
//      input the layer sees on the calibration images, in software);
//   2. the column currents of the programmed tile: linear cells, I = T^T v with T the exact
//      effective matrix of the tile (calib/effective.h: one factorization and min(M, N) solves
//      per tile, once), folded with the sense subtraction into one rows x outs matrix;
//      nonlinear cells, a Newton solve of the tile per read (calib::array_currents);
//   3. read noise (--read-noise-sigma r): every read sees G (1 + r z) with fresh z per cell. Its
//      effect on a signed output is drawn from its exact distribution for wire-free cells,
//      N(0, r^2 sum_i v_i^2 (G+_ij^2 + G-_ij^2)), one normal per output and read (a first-order
//      model when the wires are not ideal: the noise is not re-solved through the circuit);
//   4. ADC on the signed current (the sense amplifier subtracts before converting), adc_bits
//      two's complement over +-range, range = --adc-i-max or, when that is 0, the largest
//      |signed current| of the tile on the calibration images (ADC bypassed while calibrating);
//   5. digital: divided by the tile's gain s a v_read / x_max (a: weight_mapping.h; s: the
//      compensation scale, 1 uncompensated), summed over the row tiles, plus the bias.
//
// Compensation floor: the map makes a tile compute s T_target with s < 1, so targets below
// g_min / s are unreachable. Each tile's targets are lifted to a floor g_low = (1 + margin) g_min
// / s_est (weight_mapping.h: the difference of two columns is unchanged), s_est from the
// uncompensated tile's attenuation; if the map still reports cells below g_min that miss their
// target by more than kFloorMissRel, the floor is raised from the scale the map found and the
// map rebuilt (at most kMaxLiftAttempts). Misses and attempts are reported per tile.
//
// Seeds: tile k of MVM layer l programs with derive_seed(derive_seed(seed, l), k) (every
// programming stage then derives its own stream, devices/random_stream.h), so the same seed
// places the same defects and draws the same variation in every mode and for every model of the
// same architecture; read noise of evaluation batch b draws from derive_seed(stage_seed(tile
// seed, kReadNoise), b).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calib/compensation.h"
#include "devices/cell_model.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "engine/nn/nn_network.h"
#include "engine/nn/weight_mapping.h"
#include "netlists/crossbar_spec.h"
#include "solvers/circuit_solver.h"

namespace xbar::engine::nn {

enum class HardwareMode { kIdeal, kUncompensated, kCompensated };
const char* to_string(HardwareMode m);

constexpr int kMaxLiftAttempts = 4;
// Relative margin of the compensation floor above g_min / s_est. s_est is within a few % of the
// scale the map finds, but a low target next to high ones on the same lines can still need
// less than g_min: with the wire pattern of a 128 x 128 tile at 2.5 ohm, a 25% margin left
// such cells in most tiles (a second map), 50% in none of the tiles tried.
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
  calib::CompensationOptions comp;  // [keys comp-tol, comp-max-iterations]; range from mapping
  solvers::SolverOptions solver;    // [key backend]
  uint64_t seed = 1;                // [key seed]
  int threads = 2;                  // [key threads] batches evaluated in parallel
  void validate() const;            // InputError naming the key
  bool linear_cells() const { return cell == "linear"; }
};

struct TileState {
  TilePlan plan;
  TileTarget target;
  uint64_t seed = 0;
  RowMatrixXd g_programmed;   // rows x phys_cols, what the tile holds
  RowMatrixXd t_signed;       // linear: rows x outs, signed effective weights (siemens)
  RowMatrixXd noise_var;      // read noise: rows x outs, r^2 (G+^2 + G-^2) (offset: G^2 + Gref^2)
  double scale = 1.0;         // compensation scale s
  double scale_estimate = 1.0;  // s_est the first floor was chosen from
  double gain_s = 0;          // s a: siemens per unit weight
  double adc_range_a = 0;     // ADC full scale (+-)
  double calib_max_a = 0;     // largest |signed current| seen while calibrating
  devices::ProgrammingStats programming;
  // Compensation (mode compensated).
  int comp_iterations = 0, lift_attempts = 0;
  int64_t needs_above_max = 0, needs_below_min = 0;
  double floor_miss_rel = 0;  // largest |T - s G| of the cells below g_min, / max(s G)
  bool comp_converged = true;
  double comp_residual = 0;
  std::string comp_message;   // the map's one-line summary
  double program_s = 0, effective_s = 0, compensation_s = 0;
  devices::QuantizeCounts adc_counts;
  // Defect-aware pairs: partners reprogrammed, of which clipped to the window; pairs with
  // both cells stuck (nothing to do).
  int64_t partners_adjusted = 0, partners_clipped = 0, pairs_both_stuck = 0;
};

struct LayerState {
  size_t layer = 0;     // index in Network::layers
  double x_max = 0;     // DAC full-scale input
  std::vector<TileState> tiles;
  devices::QuantizeCounts dac_counts;
};

class HardwareNetwork {
 public:
  using Progress = std::function<void(const std::string&)>;
  // Maps, (compensates,) programs and solves every tile (the expensive part, timed).
  HardwareNetwork(const Network& net, const HardwareOptions& options, HardwareMode mode, Progress progress = {});
  // DAC ranges from the software activations of `images` (B x 784), then ADC ranges from the
  // hardware's signed currents on them (ADC bypassed).
  void calibrate(const RowMatrixXd& images);
  // Logits of a batch (B x 784). `batch_index` selects the read-noise streams. Thread-safe
  // for distinct calls (counts are gathered per call and merged under a lock).
  RowMatrixXd forward(const RowMatrixXd& images, uint64_t batch_index);
  // Predictions of `count` images (row-major, count x input features), batches of
  // kEvalBatchImages run on `threads` threads.
  std::vector<int> predict(const std::vector<float>& pixels, int64_t count);

  const std::vector<LayerState>& layers() const { return layers_; }
  HardwareMode mode() const { return mode_; }
  double build_seconds() const { return build_s_; }
  double calibration_seconds() const { return calibrate_s_; }
  nlohmann::json summary_json(bool per_tile) const;

 private:
  // What one forward call gathers (merged into the layer states under merge_mutex_).
  struct CallStats {
    std::vector<std::vector<devices::QuantizeCounts>> adc;  // [layer slot][tile]
    std::vector<devices::QuantizeCounts> dac;               // [layer slot]
    std::vector<std::vector<double>> max_abs_a;             // calibration: [layer slot][tile]
  };
  CallStats new_stats() const;
  RowMatrixXd run(const RowMatrixXd& images, uint64_t batch_index, bool calibrating, CallStats& stats) const;
  RowMatrixXd layer_mvm(size_t layer, RowMatrixXd& x, uint64_t batch_index, bool calibrating,
                        CallStats& stats) const;
  // Runs fn(first image, count, batch index) over the batches of an image set on o_.threads.
  void for_each_batch(int64_t count, const std::function<void(int64_t, int64_t, uint64_t)>& fn) const;
  void build_tile(const Layer& l, size_t mvm_index, TileState& t);
  void compensate_tile(const Layer& l, TileState& t, const netlists::CrossbarSpec& spec);
  void adjust_partners(RowMatrixXd& g, const devices::StuckMask& mask, TileState& t) const;

  const Network& net_;
  HardwareOptions o_;
  HardwareMode mode_;
  Progress progress_;
  std::shared_ptr<const devices::CellModel> cell_;
  std::vector<LayerState> layers_;
  std::vector<int> layer_slot_;  // Network layer index -> index in layers_, -1 if not MVM
  double build_s_ = 0, calibrate_s_ = 0;
  std::mutex merge_mutex_;
};

}  // namespace xbar::engine::nn
