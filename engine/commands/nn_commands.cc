#include "engine/commands/nn_commands.h"

#include <chrono>
#include <iostream>

#include "support/format.h"
#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/commands/commands.h"
#include "engine/io/npy.h"
#include "engine/io/npy_dataset.h"
#include "engine/nn/user_model.h"
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

}  // namespace

json hardware_json(const nn::HardwareOptions& h) {
  const devices::ProgrammingOptions& p = h.programming;
  json cell = json::object();
  for (const auto& [k, v] : devices::make_cell_model(h.cell, h.cell_params)->parameters()) cell[k] = v;
  json j = {{"tile_rows", h.mapping.tile_rows},
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
          {"adc_range", h.adc_i_max_a > 0 ? "fixed"
                                          : "per tile: largest |signed current| on the calibration images (referred to the "
                                            "output with the tile's largest gain); each output's range in proportion to "
                                            "its gain"},
          {"defect_aware", h.defect_aware},
          {"compensation", {{"tol", h.comp.tol}, {"max_iterations", h.comp.max_iterations}, {"scale", nn::compensation_scale(h)}}},
          {"backend", solvers::to_string(h.solver.backend)},
          {"seed", h.seed},
          {"threads", h.threads}};
  if (h.flash_cells()) j["flash"] = nn::flash_options_json(h);  // program-verify and retention
  if (!h.map_cache.empty()) j["compensation"]["map_cache"] = h.map_cache;
  return j;
}

namespace {

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
  if (model_path.empty())
    throw InputError("key model: give --model DIR/model.pt (written by `xbar train`) or a TorchScript module (torch.jit.save)");
  if (out.empty()) throw InputError("key out: give --out DIR");
  if (subset < 0) throw InputError("key subset = " + std::to_string(subset) + ": must be >= 0 (0 = all 10,000)");
  if (calib_images < 1) throw InputError("key calib-images = " + std::to_string(calib_images) + ": must be >= 1");
  hw.validate();
}

void require_tiles_fit(const std::vector<MatrixLayer>& layers, const nn::MappingOptions& m, const std::string& what) {
  int64_t max_in = 0, max_cols = 0;
  std::string in_layer, col_layer;
  for (const MatrixLayer& l : layers) {
    if (l.fan_in > max_in) max_in = l.fan_in, in_layer = l.name;
    const int64_t c = nn::physical_columns(l.fan_out, m);
    if (c > max_cols) max_cols = c, col_layer = l.name;
  }
  if (m.tile_rows > max_in)
    throw InputError("key tile-rows = " + std::to_string(m.tile_rows) + ": larger than any layer of the " + what +
                     " can fill (the largest fan-in is " + std::to_string(max_in) + ", layer " + in_layer +
                     "); use at most " + std::to_string(max_in));
  if (m.tile_cols > max_cols)
    throw InputError("key tile-cols = " + std::to_string(m.tile_cols) + ": larger than any layer of the " + what +
                     " can fill (the widest layer, " + col_layer + ", needs " + std::to_string(max_cols) + " " +
                     to_string(m.encoding) + " columns); use at most " + std::to_string(max_cols));
}

void require_tiles_fit(const nn::Network& net, const nn::MappingOptions& m) {
  std::vector<MatrixLayer> layers;
  for (size_t k : net.mvm_layers()) layers.push_back({net.layers[k].name, net.layers[k].fan_in(), net.layers[k].fan_out()});
  require_tiles_fit(layers, m, net.arch + " model");
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

// Accuracy and agreement of one run's predictions, and its detail record (per-layer summaries
// in `detail` already).
RunRecord record_run(const std::string& name, std::vector<int> pred, const std::vector<int>& labels,
                     const std::vector<int>& software, double inference_s, json detail, const std::string& model,
                     double build_s, const std::function<void(const std::string&)>& progress) {
  RunRecord r;
  r.name = name;
  r.inference_s = inference_s;
  for (size_t k = 0; k < labels.size(); ++k) {
    r.correct += pred[k] == labels[k];
    if (!software.empty()) r.agree_with_software += pred[k] == software[k];
  }
  r.accuracy = double(r.correct) / double(labels.size());
  r.predictions = std::move(pred);
  r.detail = std::move(detail);
  r.detail["accuracy"] = r.accuracy;
  r.detail["correct"] = r.correct;
  r.detail["images"] = labels.size();
  r.detail["same_prediction_as_software"] = r.agree_with_software;
  r.detail["model"] = model;
  r.detail["times_s"]["inference_s"] = r.inference_s;
  if (progress)
    progress(name + ": accuracy " + fmt(r.accuracy) + " (" + std::to_string(r.correct) + "/" +
             std::to_string(labels.size()) + "), build " + fmt(build_s, 3) + " s, inference " + fmt(r.inference_s, 3) +
             " s");
  return r;
}

RunRecord run_hardware(const std::string& name, const nn::Network& net, const EvaluateOptions& o, nn::HardwareMode mode,
                       const RowMatrixXd& calib, const io::ImageSet& test, const std::vector<int>& labels,
                       const std::vector<int>& software, const std::function<void(const std::string&)>& progress) {
  if (progress) progress(name + ": programming " + std::to_string(net.mvm_layers().size()) + " crossbar layers (" +
                         to_string(mode) + ")");
  nn::HardwareNetwork hw(net, o.hw, mode, progress);
  hw.calibrate(calib);
  const auto t0 = Clock::now();
  std::vector<int> pred = hw.predict(test.pixels, test.count);
  const double inference_s = seconds_since(t0);
  return record_run(name, std::move(pred), labels, software, inference_s, hw.summary_json(o.tile_details), net.source,
                    hw.build_seconds(), progress);
}

RunRecord run_user_hardware(const std::string& name, nn::UserModel& model, const EvaluateOptions& o,
                            nn::HardwareMode mode, const io::SampleSet& calib, const io::SampleSet& test,
                            const std::vector<int>& labels, const std::vector<int>& software,
                            const std::function<void(const std::string&)>& progress) {
  if (progress) progress(name + ": programming " + std::to_string(model.layers().size()) + " crossbar layers (" +
                         to_string(mode) + ")");
  const double build_s = model.build_hardware(o.hw, mode, progress);
  const double calib_s = model.calibrate(calib);
  const auto t0 = Clock::now();
  std::vector<int> pred = model.predict_hardware(test);
  const double inference_s = seconds_since(t0);
  json detail = {{"mode", to_string(mode)},
                 {"layers", model.hardware_summary(o.tile_details)},
                 {"times_s", {{"build_s", build_s}, {"calibration_s", calib_s}}}};
  return record_run(name, std::move(pred), labels, software, inference_s, std::move(detail), model.path(), build_s,
                    progress);
}

// What accuracy.json reports, for either kind of model.
struct Evaluation {
  std::vector<int> labels;
  std::vector<int> software;          // predictions
  double software_accuracy = 0, software_s = 0;
  std::vector<RunRecord> runs;        // ideal, uncompensated [, compensated] [, hat]
  bool hat_from_file = false, model_is_hat = false;
  json test_set, calibration_set, model, hat_model;
  std::string subset_note;
  std::string predictions_layout = "one row per name: the class (0..9) of every test image, in file order";
};

double accuracy_of(const std::vector<int>& pred, const std::vector<int>& labels) {
  int64_t c = 0;
  for (size_t k = 0; k < labels.size(); ++k) c += pred[k] == labels[k];
  return labels.empty() ? 0.0 : double(c) / double(labels.size());
}

int write_evaluation(const NnRunConfig& cfg, const EvaluateOptions& o, const Evaluation& ev, Clock::time_point t_start) {
  const int64_t count = int64_t(ev.labels.size());
  json j = base_json(cfg, o.hw.seed);
  j["software"] = ev.software_accuracy;
  for (const RunRecord& r : ev.runs) j[r.name] = r.accuracy;
  if (!o.compensate) j["compensated"] = nullptr;
  std::string hat_source = "none: --model is not hardware-aware trained and no --hat-model was given";
  if (ev.hat_from_file) {
    hat_source = "--hat-model " + o.hat_model_path + ", compensated, same hardware and seed";
  } else if (ev.model_is_hat && o.compensate) {
    j["hat"] = j["compensated"];
    hat_source = "--model itself is hardware-aware trained: hat = its compensated accuracy";
  }
  if (!o.compensate && (ev.hat_from_file || ev.model_is_hat)) {
    j["hat"] = nullptr;
    hat_source = "not evaluated: --compensate false (hat is the compensated accuracy of the HAT model)";
  }
  j["hat_source"] = hat_source;
  json rel = json::object();
  for (const char* k : {"ideal", "uncompensated", "compensated", "hat"})
    if (j.contains(k) && j[k].is_number()) rel[k] = j[k].get<double>() / ev.software_accuracy;
  j["relative_to_software"] = rel;
  const RunRecord& ideal = ev.runs[0];
  j["ideal_matches_software"] = ideal.agree_with_software == count;
  j["ideal_prediction_mismatches"] = count - ideal.agree_with_software;
  j["test_images"] = count;
  j["test_set"] = ev.test_set;
  if (!ev.subset_note.empty()) j["test_set"]["note"] = ev.subset_note;
  j["calibration_set"] = ev.calibration_set;
  j["model"] = ev.model;
  if (ev.hat_from_file) j["hat_model"] = ev.hat_model;
  j["hardware"] = hardware_json(o.hw);
  j["hardware"]["inference"] =
      o.hw.linear_cells()  ? "linear cells: exact effective matrix T of every programmed tile, I = T^T v"
      : o.hw.flash_cells() ? "flash cells: one Newton solve per read of the tile with its programmed thresholds"
                           : "nonlinear cells: one Newton solve of the programmed tile per read";
  json runs_json = json::object();
  for (const RunRecord& r : ev.runs) runs_json[r.name] = r.detail;
  j["runs"] = runs_json;
  // Timing: software forward passes vs hardware inference of the same images (the uncompensated
  // run; programming and effective matrices are one-off costs, reported per run).
  const RunRecord& unc = ev.runs[1];
  j["timing"] = {{"software_eval_s", ev.software_s},
                 {"hardware_eval_s", unc.inference_s},
                 {"hardware_over_software", ev.software_s > 0 ? unc.inference_s / ev.software_s : 0.0},
                 {"hardware_build_s", unc.detail["times_s"]["build_s"]},
                 {"hardware_calibration_s", unc.detail["times_s"]["calibration_s"]},
                 {"note", "hardware_eval_s: the test images through DAC, tile products, ADC and digital steps, "
                          "after programming; build_s: programming and solving every tile once"}};
  j["times_s"] = {{"software_s", ev.software_s}, {"total_s", seconds_since(t_start)}};
  j["peak_rss_bytes"] = peak_rss_bytes();
  // Every prediction, so that a reader can recompute each accuracy and agreement itself.
  {
    std::vector<std::vector<int>> rows = {ev.labels, ev.software};
    json names = {"labels", "software"};
    for (const RunRecord& r : ev.runs) {
      rows.push_back(r.predictions);
      names.push_back(r.name);
    }
    std::vector<double> flat;
    for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
    io::ensure_directory(o.out);
    io::write_npy(o.out + "/predictions.npy", flat.data(), {int64_t(rows.size()), count});
    j["predictions"] = {{"file", "predictions.npy"}, {"rows", names}, {"layout", ev.predictions_layout}};
  }
  write_json(o.out + "/accuracy.json", j);
  if (!o.quiet) {
    std::cout << "accuracy on " << count << " test images (" << ev.model.value("architecture", std::string("?"))
              << "): software " << fmt(ev.software_accuracy);
    for (const RunRecord& r : ev.runs) std::cout << ", " << r.name << " " << fmt(r.accuracy);
    std::cout << "\n  ideal == software on every image: " << (ideal.agree_with_software == count ? "yes" : "NO")
              << "; hardware / software eval time " << fmt(unc.inference_s, 3) << " / " << fmt(ev.software_s, 3)
              << " s; wrote " << o.out << "/accuracy.json\n";
  }
  return 0;
}

json set_json(const std::string& inputs, const std::string& labels, int64_t count, int64_t subset) {
  json j = {{"images", inputs}, {"count", count}, {"subset", subset == 0 ? json("full") : json(subset)}};
  if (!labels.empty()) j["labels"] = labels;
  return j;
}

// The calibration inputs of --data: --calib-images of them when given, else up to that default.
io::SampleSet npy_calibration(const EvaluateOptions& o) {
  if (o.calib_images_given) return io::load_npy_dataset(o.data_npy_dir, io::Split::kTrain, o.calib_images, "calib-images");
  io::SampleSet s = io::load_npy_dataset(o.data_npy_dir, io::Split::kTrain, 0, "calib-images");
  if (s.count > o.calib_images) {
    s.count = o.calib_images;
    s.values.resize(size_t(s.count * s.features()));
  }
  return s;
}

std::string nonlinear_subset(EvaluateOptions& o) {
  if (o.hw.linear_cells() || o.subset_given) return "";
  o.subset = kNonlinearDefaultSubset;
  return "nonlinear cells (" + o.hw.cell + ") need a Newton solve per read: the first " + std::to_string(o.subset) +
         " test images (--subset to change)";
}

int run_evaluate_user(const NnRunConfig& cfg, EvaluateOptions o, Clock::time_point t_start) {
  const auto progress = progress_of("evaluate", o.quiet);
  const std::shared_ptr<nn::UserModel> model = nn::load_user_model(o.model_path);
  std::shared_ptr<nn::UserModel> hat;
  if (!o.hat_model_path.empty()) {
    if (nn::is_xbar_model(o.hat_model_path))
      throw InputError("key hat-model = '" + o.hat_model_path + "': a model of `xbar train`, but --model '" +
                       o.model_path + "' is a TorchScript module; compare the same architecture");
    hat = nn::load_user_model(o.hat_model_path);
    const auto& a = model->layers();
    const auto& b = hat->layers();
    bool same = a.size() == b.size();
    for (size_t k = 0; same && k < a.size(); ++k)
      same = a[k].name == b[k].name && a[k].fan_in == b[k].fan_in && a[k].fan_out == b[k].fan_out && a[k].groups == b[k].groups;
    if (!same)
      throw InputError("key hat-model = '" + o.hat_model_path + "': its crossbar layers differ from --model '" +
                       o.model_path + "''s (names or shapes); compare the same architecture");
  }
  {
    std::vector<MatrixLayer> ml;
    for (const nn::UserLayer& l : model->layers()) ml.push_back({l.name, l.fan_in, l.fan_out});
    require_tiles_fit(ml, o.hw.mapping, "model");
  }
  Evaluation ev;
  ev.subset_note = nonlinear_subset(o);
  io::SampleSet test, calib;
  if (!o.data_npy_dir.empty()) {
    test = io::load_npy_dataset(o.data_npy_dir, io::Split::kTest, o.subset, "subset");
    calib = npy_calibration(o);
    if (calib.sample_shape != test.sample_shape)
      throw InputError("key data = '" + o.data_npy_dir + "': " + calib.inputs_path + " holds samples of shape " +
                       io::shape_to_string(calib.sample_shape) + ", " + test.inputs_path + " of shape " +
                       io::shape_to_string(test.sample_shape) + " (expected the same sample shape)");
  } else {
    test = io::samples_of(io::load_fashion_mnist(o.data_dir, io::Split::kTest, o.subset, "subset"), o.input_shape);
    calib = io::samples_of(io::load_fashion_mnist(o.data_dir, io::Split::kTrain, o.calib_images, "calib-images"),
                           o.input_shape);
  }
  ev.labels.assign(test.labels.begin(), test.labels.end());
  ev.predictions_layout = "one row per name: the predicted class of every test sample, in file order";
  ev.test_set = set_json(test.inputs_path, test.labels_path, test.count, o.subset);
  ev.test_set["sample_shape"] = test.sample_shape;
  ev.calibration_set = set_json(calib.inputs_path, "", calib.count, 0);
  ev.calibration_set.erase("subset");
  ev.calibration_set["use"] = "DAC full scale per layer (software activations) and ADC range per tile";
  json layers = json::array();
  for (const nn::UserLayer& l : model->layers())
    layers.push_back({{"name", l.name}, {"kind", l.kind}, {"groups", l.groups}, {"weights", {l.fan_in, l.fan_out}},
                      {"first_unit", l.first_unit}, {"graph_calls", l.calls}});
  ev.model = {{"path", o.model_path}, {"architecture", "torchscript"}, {"hat", false}, {"crossbar_layers", layers}};
  if (progress)
    progress("model " + o.model_path + " (TorchScript, " + std::to_string(model->layers().size()) +
             " crossbar layers), " + std::to_string(test.count) + " test samples, " + std::to_string(calib.count) +
             " calibration samples" + (ev.subset_note.empty() ? "" : "; " + ev.subset_note));
  const nn::SoftwareRun sw = model->predict_software(test, o.hw.threads);
  ev.software = sw.predictions;
  ev.software_accuracy = accuracy_of(sw.predictions, ev.labels);
  ev.software_s = sw.seconds;
  if (progress) progress("software: accuracy " + fmt(ev.software_accuracy) + " in " + fmt(sw.seconds, 3) + " s");
  ev.runs.push_back(run_user_hardware("ideal", *model, o, nn::HardwareMode::kIdeal, calib, test, ev.labels, ev.software, progress));
  ev.runs.push_back(run_user_hardware("uncompensated", *model, o, nn::HardwareMode::kUncompensated, calib, test, ev.labels,
                                      ev.software, progress));
  if (o.compensate)
    ev.runs.push_back(run_user_hardware("compensated", *model, o, nn::HardwareMode::kCompensated, calib, test, ev.labels,
                                        ev.software, progress));
  if (o.compensate && hat) {
    const nn::SoftwareRun hs = hat->predict_software(test, o.hw.threads);
    ev.hat_from_file = true;
    ev.hat_model = {{"path", o.hat_model_path}, {"architecture", "torchscript"},
                    {"software_accuracy", accuracy_of(hs.predictions, ev.labels)}};
    if (progress) progress("hat model software: accuracy " + fmt(ev.hat_model["software_accuracy"].get<double>()));
    ev.runs.push_back(run_user_hardware("hat", *hat, o, nn::HardwareMode::kCompensated, calib, test, ev.labels,
                                        hs.predictions, progress));
  }
  ev.hat_from_file = hat != nullptr;
  if (hat && !o.compensate)
    ev.hat_model = {{"path", o.hat_model_path}, {"architecture", "torchscript"}};
  return write_evaluation(cfg, o, ev, t_start);
}

}  // namespace

int run_evaluate(const NnRunConfig& cfg) {
  const auto t_start = Clock::now();
  EvaluateOptions o = cfg.eval;
  o.validate();
  for (const char* f : {"/predictions.npy", "/accuracy.json"}) io::require_output_file_path(o.out + f);
  if (!nn::is_xbar_model(o.model_path)) return run_evaluate_user(cfg, o, t_start);
  const auto progress = progress_of("evaluate", o.quiet);
  const nn::Network net = nn::load_network(o.model_path);
  nn::Network hat_net;
  bool hat_from_file = false;
  if (!o.hat_model_path.empty()) {
    if (!nn::is_xbar_model(o.hat_model_path))
      throw InputError("key hat-model = '" + o.hat_model_path + "': not a model of `xbar train`, but --model '" +
                       o.model_path + "' is one; compare the same architecture");
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
  Evaluation ev;
  ev.subset_note = nonlinear_subset(o);
  io::ImageSet test, calib_set;
  if (!o.data_npy_dir.empty()) {
    test = io::images_of(io::load_npy_dataset(o.data_npy_dir, io::Split::kTest, o.subset, "subset"), "key data");
    calib_set = io::images_of(npy_calibration(o), "key data");
  } else {
    test = io::load_fashion_mnist(o.data_dir, io::Split::kTest, o.subset, "subset");
    calib_set = io::load_fashion_mnist(o.data_dir, io::Split::kTrain, o.calib_images, "calib-images");
  }
  const RowMatrixXd calib = image_matrix(calib_set);
  if (progress)
    progress("model " + o.model_path + " (" + net.arch + (net.hat ? ", hardware-aware trained" : "") + "), " +
             std::to_string(test.count) + " test images, " + std::to_string(calib_set.count) +
             " calibration images" + (ev.subset_note.empty() ? "" : "; " + ev.subset_note));
  ev.labels.assign(test.labels.begin(), test.labels.end());
  ev.test_set = set_json(test.images_path, test.labels_path, test.count, o.subset);
  ev.calibration_set = set_json(calib_set.images_path, "", calib_set.count, 0);
  ev.calibration_set.erase("subset");
  ev.calibration_set["use"] = "DAC full scale per layer (software activations) and ADC range per tile";
  ev.model = model_json(net);
  ev.model_is_hat = net.hat;

  const nn::SoftwareEvaluation sw = nn::evaluate_software(o.model_path, test, o.hw.threads);
  if (progress) progress("software: accuracy " + fmt(sw.accuracy) + " in " + fmt(sw.seconds, 3) + " s");
  ev.software = sw.predictions;
  ev.software_accuracy = sw.accuracy;
  ev.software_s = sw.seconds;

  ev.runs.push_back(run_hardware("ideal", net, o, nn::HardwareMode::kIdeal, calib, test, ev.labels, sw.predictions, progress));
  ev.runs.push_back(
      run_hardware("uncompensated", net, o, nn::HardwareMode::kUncompensated, calib, test, ev.labels, sw.predictions, progress));
  if (o.compensate)
    ev.runs.push_back(
        run_hardware("compensated", net, o, nn::HardwareMode::kCompensated, calib, test, ev.labels, sw.predictions, progress));
  if (hat_from_file) {
    ev.hat_from_file = true;
    ev.hat_model = model_json(hat_net);
  }
  if (o.compensate && hat_from_file) {
    const nn::SoftwareEvaluation hat_sw = nn::evaluate_software(o.hat_model_path, test, o.hw.threads);
    if (progress) progress("hat model software: accuracy " + fmt(hat_sw.accuracy));
    ev.hat_model["software_accuracy"] = hat_sw.accuracy;
    ev.runs.push_back(run_hardware("hat", hat_net, o, nn::HardwareMode::kCompensated, calib, test, ev.labels,
                                   hat_sw.predictions, progress));
  }
  return write_evaluation(cfg, o, ev, t_start);
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
  j["hardware"] = hardware_json(o.hw);
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
                  {"weight", "w = (I+ - I-) / (gain_s_per_weight[j] * v) for output j of the tile (offset: I - I_ref), "
                             "v in volts per unit input; gain_s_per_weight[j] = scale_j * a"}};
  j["times_s"] = {{"total_s", seconds_since(t_start)}};
  j["peak_rss_bytes"] = peak_rss_bytes();
  write_json(o.out + "/result.json", j);
  if (!o.quiet)
    std::cout << "programmed " << net.arch << " (" << tiles.size() << " tiles, " << to_string(mode) << ") in "
              << fmt(seconds_since(t_start), 3) << " s; wrote " << o.out << "/tiles/, " << o.out << "/result.json\n";
  return 0;
}

}  // namespace xbar::engine::commands
