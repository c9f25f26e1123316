#include "engine/commands/nn_commands.h"

#include <chrono>
#include <iostream>

#include "support/format.h"
#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/commands/commands.h"
#include "engine/io/npy.h"
#include "solvers/circuit_solver.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using netlists::RowMatrixXd;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void write_json(const std::string& path, const json& j) {
  io::write_file_atomically(path, [&](std::ostream& os) { os << j.dump(2) << "\n"; });
}

std::function<void(const std::string&)> progress_of(const std::string& command, bool quiet) {
  if (quiet) return {};
  return [command](const std::string& m) { std::cerr << "xbar " << command << ": " << m << std::endl; };
}

std::string fmt(double v, int precision = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

json base_json(const NnRunConfig& cfg, uint64_t seed) {
  return {{"tool", "xbar"}, {"version", XBAR_VERSION}, {"command", cfg.command}, {"config", cfg.config_json},
          {"seed", seed}};
}

json hardware_json(const nn::HardwareOptions& h) {
  const devices::ProgrammingOptions& p = h.programming;
  json cell = json::object();
  for (const auto& [k, v] : devices::make_cell_model(h.cell, h.cell_params)->parameters()) cell[k] = v;
  return {{"tile_rows", h.mapping.tile_rows},
          {"tile_cols", h.mapping.tile_cols},
          {"weight_encoding", to_string(h.mapping.encoding)},
          {"g_min_s", h.mapping.range.g_min_s},
          {"g_max_s", h.mapping.range.g_max_s},
          {"wires",
           {{"r_row_ohm", h.wires.row_segment_ohm()},
            {"r_col_ohm", h.wires.col_segment_ohm()},
            {"r_driver_ohm", h.wires.r_driver_ohm},
            {"r_sense_ohm", h.wires.r_sense_ohm},
            {"drive", netlists::to_string(h.wires.drive)},
            {"sense", netlists::to_string(h.wires.sense)}}},
          {"cell", h.cell},
          {"cell_parameters", cell},
          {"programming",
           {{"levels", p.levels.levels},
            {"level_table", p.levels.table_source},
            {"variation", devices::to_string(p.variation.model)},
            {"variation_sigma", p.variation.relative_sigma},
            {"variation_sigma_s", p.variation.absolute_sigma_s},
            {"stuck_on_rate", p.stuck.stuck_on_rate},
            {"stuck_off_rate", p.stuck.stuck_off_rate},
            {"drift_time_s", p.drift.time_s}}},
          {"read_noise_sigma", h.read_noise.relative_sigma},
          {"dac_bits", h.dac_bits},
          {"v_read_v", h.v_read_v},
          {"adc_bits", h.adc_bits},
          {"adc_i_max_a", h.adc_i_max_a},
          {"adc_range", h.adc_i_max_a > 0 ? "fixed" : "per tile: largest |signed current| on the calibration images"},
          {"defect_aware", h.defect_aware},
          {"compensation", {{"tol", h.comp.tol}, {"max_iterations", h.comp.max_iterations}, {"scale", "auto"}}},
          {"backend", solvers::to_string(h.solver.backend)},
          {"seed", h.seed},
          {"threads", h.threads}};
}

json hardware_json_with_flash(const nn::HardwareOptions& h) {
  json j = hardware_json(h);
  if (h.flash_cells()) j["flash"] = nn::flash_options_json(h);
  return j;
}

json model_json(const nn::Network& n) {
  return {{"path", n.source}, {"architecture", n.arch}, {"hat", n.hat}, {"meta", n.meta}};
}

RowMatrixXd image_matrix(const io::ImageSet& s) {
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
             s.pixels.data(), s.count, io::kImagePixels)
      .cast<double>();
}

}  // namespace

void EvaluateOptions::validate() const {
  if (model_path.empty()) throw InputError("key model: give --model DIR/model.pt (written by `xbar train`)");
  if (out.empty()) throw InputError("key out: give --out DIR");
  if (subset < 0) throw InputError("key subset = " + std::to_string(subset) + ": must be >= 0 (0 = all 10,000)");
  if (calib_images < 1) throw InputError("key calib-images = " + std::to_string(calib_images) + ": must be >= 1");
  hw.validate();
}

void require_tiles_fit(const nn::Network& net, const nn::MappingOptions& m) {
  int64_t max_in = 0, max_cols = 0;
  std::string in_layer, col_layer;
  for (size_t k : net.mvm_layers()) {
    const nn::Layer& l = net.layers[k];
    if (l.fan_in() > max_in) max_in = l.fan_in(), in_layer = l.name;
    const int64_t c = nn::physical_columns(l.fan_out(), m);
    if (c > max_cols) max_cols = c, col_layer = l.name;
  }
  if (m.tile_rows > max_in)
    throw InputError("key tile-rows = " + std::to_string(m.tile_rows) + ": larger than any layer of the " + net.arch +
                     " model can fill (the largest fan-in is " + std::to_string(max_in) + ", layer " + in_layer +
                     "); use at most " + std::to_string(max_in));
  if (m.tile_cols > max_cols)
    throw InputError("key tile-cols = " + std::to_string(m.tile_cols) + ": larger than any layer of the " + net.arch +
                     " model can fill (the widest layer, " + col_layer + ", needs " + std::to_string(max_cols) + " " +
                     to_string(m.encoding) + " columns); use at most " + std::to_string(max_cols));
}

int run_train(const NnRunConfig& cfg) {
  const nn::TrainOptions& o = cfg.train;
  o.validate();
  for (const char* f : {"/model.pt", "/train.json"}) io::require_output_file_path(o.out + f);
  const nn::TrainResult r = nn::train_model(o, progress_of("train", o.quiet));
  json j = base_json(cfg, o.seed);
  j["model"] = {{"file", "model.pt"}, {"architecture", to_string(o.architecture)}, {"hat", o.hat.enabled}};
  j["hat_options"] = o.hat.to_json();
  j["metrics"] = r.metrics;
  j["test_accuracy"] = r.test_accuracy;
  j["times_s"] = r.metrics["times_s"];
  j["peak_rss_bytes"] = peak_rss_bytes();
  write_json(o.out + "/train.json", j);
  if (!o.quiet)
    std::cout << "trained " << to_string(o.architecture) << (o.hat.enabled ? " (hardware-aware)" : "")
              << ": test accuracy " << fmt(r.test_accuracy) << " in " << fmt(r.seconds, 3) << " s; wrote " << o.out
              << "/model.pt, " << o.out << "/train.json\n";
  return 0;
}

namespace {

struct RunRecord {
  std::string name;
  double accuracy = 0;
  int64_t correct = 0;
  int64_t agree_with_software = 0;
  double inference_s = 0;
  std::vector<int> predictions;
  json detail;
};

RunRecord run_hardware(const std::string& name, const nn::Network& net, const EvaluateOptions& o, nn::HardwareMode mode,
                       const RowMatrixXd& calib, const io::ImageSet& test, const std::vector<int>& software,
                       const std::function<void(const std::string&)>& progress) {
  if (progress) progress(name + ": programming " + std::to_string(net.mvm_layers().size()) + " crossbar layers (" +
                         to_string(mode) + ")");
  nn::HardwareNetwork hw(net, o.hw, mode, progress);
  hw.calibrate(calib);
  const auto t0 = Clock::now();
  std::vector<int> pred = hw.predict(test.pixels, test.count);
  RunRecord r;
  r.name = name;
  r.inference_s = seconds_since(t0);
  for (int64_t k = 0; k < test.count; ++k) {
    r.correct += pred[size_t(k)] == test.labels[size_t(k)];
    if (!software.empty()) r.agree_with_software += pred[size_t(k)] == software[size_t(k)];
  }
  r.accuracy = double(r.correct) / double(test.count);
  r.predictions = std::move(pred);
  r.detail = hw.summary_json(o.tile_details);
  r.detail["accuracy"] = r.accuracy;
  r.detail["correct"] = r.correct;
  r.detail["images"] = test.count;
  r.detail["same_prediction_as_software"] = r.agree_with_software;
  r.detail["model"] = net.source;
  r.detail["times_s"]["inference_s"] = r.inference_s;
  if (progress)
    progress(name + ": accuracy " + fmt(r.accuracy) + " (" + std::to_string(r.correct) + "/" +
             std::to_string(test.count) + "), build " + fmt(hw.build_seconds(), 3) + " s, inference " +
             fmt(r.inference_s, 3) + " s");
  return r;
}

}  // namespace

int run_evaluate(const NnRunConfig& cfg) {
  const auto t_start = Clock::now();
  EvaluateOptions o = cfg.eval;
  o.validate();
  for (const char* f : {"/predictions.npy", "/accuracy.json"}) io::require_output_file_path(o.out + f);
  const auto progress = progress_of("evaluate", o.quiet);
  const nn::Network net = nn::load_network(o.model_path);
  nn::Network hat_net;
  bool hat_from_file = false;
  if (!o.hat_model_path.empty()) {
    hat_net = nn::load_network(o.hat_model_path);
    if (hat_net.arch != net.arch)
      throw InputError("key hat-model = '" + o.hat_model_path + "': a " + hat_net.arch + " model, but --model '" +
                       o.model_path + "' is a " + net.arch + " model; compare the same architecture");
    if (!hat_net.hat)
      throw InputError("key hat-model = '" + o.hat_model_path + "': this model was not trained with --hat "
                       "(its metadata says hat = false)");
    hat_from_file = true;
  }
  require_tiles_fit(net, o.hw.mapping);
  const bool linear = o.hw.linear_cells();
  std::string subset_note;
  if (!linear && !o.subset_given) {
    o.subset = kNonlinearDefaultSubset;
    subset_note = "nonlinear cells (" + o.hw.cell + ") need a Newton solve per read: the first " +
                  std::to_string(o.subset) + " test images (--subset to change)";
  }
  const io::ImageSet test = io::load_fashion_mnist(o.data_dir, io::Split::kTest, o.subset, "subset");
  const io::ImageSet calib_set = io::load_fashion_mnist(o.data_dir, io::Split::kTrain, o.calib_images, "calib-images");
  const RowMatrixXd calib = image_matrix(calib_set);
  if (progress)
    progress("model " + o.model_path + " (" + net.arch + (net.hat ? ", hardware-aware trained" : "") + "), " +
             std::to_string(test.count) + " test images, " + std::to_string(calib_set.count) +
             " calibration images" + (subset_note.empty() ? "" : "; " + subset_note));

  const nn::SoftwareEvaluation sw = nn::evaluate_software(o.model_path, test, o.hw.threads);
  if (progress) progress("software: accuracy " + fmt(sw.accuracy) + " in " + fmt(sw.seconds, 3) + " s");

  std::vector<RunRecord> runs;
  runs.push_back(run_hardware("ideal", net, o, nn::HardwareMode::kIdeal, calib, test, sw.predictions, progress));
  runs.push_back(run_hardware("uncompensated", net, o, nn::HardwareMode::kUncompensated, calib, test, sw.predictions, progress));
  if (o.compensate)
    runs.push_back(run_hardware("compensated", net, o, nn::HardwareMode::kCompensated, calib, test, sw.predictions, progress));
  nn::SoftwareEvaluation hat_sw;
  if (o.compensate && hat_from_file) {
    hat_sw = nn::evaluate_software(o.hat_model_path, test, o.hw.threads);
    if (progress) progress("hat model software: accuracy " + fmt(hat_sw.accuracy));
    runs.push_back(run_hardware("hat", hat_net, o, nn::HardwareMode::kCompensated, calib, test, hat_sw.predictions, progress));
  }

  json j = base_json(cfg, o.hw.seed);
  j["software"] = sw.accuracy;
  for (const RunRecord& r : runs) j[r.name] = r.accuracy;
  if (!o.compensate) j["compensated"] = nullptr;
  std::string hat_source = "none: --model is not hardware-aware trained and no --hat-model was given";
  if (hat_from_file) {
    hat_source = "--hat-model " + o.hat_model_path + ", compensated, same hardware and seed";
  } else if (net.hat && o.compensate) {
    j["hat"] = j["compensated"];
    hat_source = "--model itself is hardware-aware trained: hat = its compensated accuracy";
  }
  if (!o.compensate && (hat_from_file || net.hat)) {
    j["hat"] = nullptr;
    hat_source = "not evaluated: --compensate false (hat is the compensated accuracy of the HAT model)";
  }
  j["hat_source"] = hat_source;
  json rel = json::object();
  for (const char* k : {"ideal", "uncompensated", "compensated", "hat"})
    if (j.contains(k) && j[k].is_number()) rel[k] = j[k].get<double>() / sw.accuracy;
  j["relative_to_software"] = rel;
  const RunRecord& ideal = runs[0];
  j["ideal_matches_software"] = ideal.agree_with_software == test.count;
  j["ideal_prediction_mismatches"] = test.count - ideal.agree_with_software;
  j["test_images"] = test.count;
  j["test_set"] = {{"images", test.images_path}, {"labels", test.labels_path}, {"count", test.count},
                   {"subset", o.subset == 0 ? json("full") : json(o.subset)}};
  if (!subset_note.empty()) j["test_set"]["note"] = subset_note;
  j["calibration_set"] = {{"images", calib_set.images_path}, {"count", calib_set.count},
                          {"use", "DAC full scale per layer (software activations) and ADC range per tile"}};
  j["model"] = model_json(net);
  if (hat_from_file) {
    j["hat_model"] = model_json(hat_net);
    j["hat_model"]["software_accuracy"] = hat_sw.accuracy;
  }
  j["hardware"] = hardware_json_with_flash(o.hw);
  j["hardware"]["inference"] = linear ? "linear cells: exact effective matrix T of every programmed tile, I = T^T v"
                               : o.hw.flash_cells()
                                   ? "flash cells: one Newton solve per read of the tile with its programmed thresholds"
                                   : "nonlinear cells: one Newton solve of the programmed tile per read";
  json runs_json = json::object();
  for (const RunRecord& r : runs) runs_json[r.name] = r.detail;
  j["runs"] = runs_json;
  // Timing: software forward passes vs hardware inference of the same images (the uncompensated
  // run; programming and effective matrices are one-off costs, reported per run).
  const RunRecord& unc = runs[1];
  j["timing"] = {{"software_eval_s", sw.seconds},
                 {"hardware_eval_s", unc.inference_s},
                 {"hardware_over_software", sw.seconds > 0 ? unc.inference_s / sw.seconds : 0.0},
                 {"hardware_build_s", unc.detail["times_s"]["build_s"]},
                 {"hardware_calibration_s", unc.detail["times_s"]["calibration_s"]},
                 {"note", "hardware_eval_s: the test images through DAC, tile products, ADC and digital steps, "
                          "after programming; build_s: programming and solving every tile once"}};
  j["times_s"] = {{"software_s", sw.seconds}, {"total_s", seconds_since(t_start)}};
  j["peak_rss_bytes"] = peak_rss_bytes();
  // Every prediction, so that a reader can recompute each accuracy and agreement itself.
  {
    std::vector<std::vector<int>> rows = {std::vector<int>(test.labels.begin(), test.labels.end()), sw.predictions};
    json names = {"labels", "software"};
    for (const RunRecord& r : runs) {
      rows.push_back(r.predictions);
      names.push_back(r.name);
    }
    std::vector<double> flat;
    for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
    io::ensure_directory(o.out);
    io::write_npy(o.out + "/predictions.npy", flat.data(), {int64_t(rows.size()), test.count});
    j["predictions"] = {{"file", "predictions.npy"}, {"rows", names},
                        {"layout", "one row per name: the class (0..9) of every test image, in file order"}};
  }
  write_json(o.out + "/accuracy.json", j);
  if (!o.quiet) {
    std::cout << "accuracy on " << test.count << " test images (" << net.arch << "): software " << fmt(sw.accuracy);
    for (const RunRecord& r : runs) std::cout << ", " << r.name << " " << fmt(r.accuracy);
    std::cout << "\n  ideal == software on every image: " << (ideal.agree_with_software == test.count ? "yes" : "NO")
              << "; hardware / software eval time " << fmt(unc.inference_s, 3) << " / " << fmt(sw.seconds, 3)
              << " s; wrote " << o.out << "/accuracy.json\n";
  }
  return 0;
}

int run_program_model(const NnRunConfig& cfg) {
  const auto t_start = Clock::now();
  EvaluateOptions o = cfg.eval;
  if (o.model_path.empty()) throw InputError("key model: give --model DIR/model.pt");
  if (o.out.empty()) throw InputError("key out: program needs --out DIR");
  o.hw.validate();
  io::require_output_file_path(o.out + "/result.json");
  const nn::Network net = nn::load_network(o.model_path);
  require_tiles_fit(net, o.hw.mapping);
  const nn::HardwareMode mode = o.compensate ? nn::HardwareMode::kCompensated : nn::HardwareMode::kUncompensated;
  const nn::HardwareNetwork hw(net, o.hw, mode, progress_of("program", o.quiet));
  io::ensure_directory(o.out + "/tiles");
  json tiles = json::array();
  for (const nn::LayerState& ls : hw.layers()) {
    const nn::Layer& l = net.layers[ls.layer];
    for (const nn::TileState& t : ls.tiles) {
      const std::string file = "tiles/" + l.name + "_r" + std::to_string(t.plan.row_tile) + "_c" +
                               std::to_string(t.plan.col_tile) + ".npy";
      const RowMatrixXd& held = o.hw.flash_cells() ? t.flash.vth_v : t.g_programmed;  // flash: thresholds
      io::write_npy(o.out + "/" + file, held.data(), {held.rows(), held.cols()});
      tiles.push_back({{"file", file}, {"layer", l.name}, {"row_tile", t.plan.row_tile}, {"col_tile", t.plan.col_tile},
                       {"inputs", {t.plan.row0, t.plan.row0 + t.plan.rows}},
                       {"outputs", {t.plan.out0, t.plan.out0 + t.plan.outs}},
                       {"gain_s_per_weight", t.gain_s}, {"scale", t.scale}});
    }
  }
  json j = base_json(cfg, o.hw.seed);
  j["model"] = model_json(net);
  j["hardware"] = hardware_json_with_flash(o.hw);
  j["mode"] = to_string(mode);
  j["tiles"] = tiles;
  j["summary"] = hw.summary_json(o.tile_details);
  j["outputs"] = {{"tiles", o.hw.flash_cells()
                                ? "tiles/<layer>_r<row tile>_c<col tile>.npy: programmed thresholds V_th [V], rows x "
                                  "columns (`xbar solve --cell flash --vth FILE` reads them)"
                                : "tiles/<layer>_r<row tile>_c<col tile>.npy: programmed conductances [S], rows x columns"},
                  {"columns", o.hw.mapping.encoding == nn::WeightEncoding::kDifferential
                                  ? "output j of the tile: columns 2j (G+) and 2j+1 (G-)"
                                  : "output j of the tile: column j, minus the last (reference) column"},
                  {"weight", "w = (I+ - I-) / (gain_s_per_weight * v), v in volts per unit input"}};
  j["times_s"] = {{"total_s", seconds_since(t_start)}};
  j["peak_rss_bytes"] = peak_rss_bytes();
  write_json(o.out + "/result.json", j);
  if (!o.quiet)
    std::cout << "programmed " << net.arch << " (" << tiles.size() << " tiles, " << to_string(mode) << ") in "
              << fmt(seconds_since(t_start), 3) << " s; wrote " << o.out << "/tiles/, " << o.out << "/result.json\n";
  return 0;
}

}  // namespace xbar::engine::commands
