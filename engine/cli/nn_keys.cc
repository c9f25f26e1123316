#include "engine/cli/nn_keys.h"

#include <cstdint>
#include <set>
#include <string>

#include "calib/compensation.h"
#include "devices/conductance_levels.h"
#include "engine/cli/array_keys.h"
#include "engine/cli/calibrate_keys.h"
#include "engine/cli/program_keys.h"
#include "devices/registry.h"
#include "engine/nn/nn_model.h"
#include "engine/nn/train.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_solver.h"
#include "support/format.h"
#include "support/input_error.h"
#include "support/text.h"

#include <cerrno>
#include <cstdlib>

namespace xbar::engine::cli {

namespace devices = xbar::devices;
using commands::RunConfig;

po::options_description nn_keys(const std::string& sub) {
  const nn::TrainOptions td;
  const commands::EvaluateOptions ed;
  const nn::HardwareOptions& hd = ed.hw;
  const bool program = sub == "program";
  auto num = [&](double v) {
    return program ? po::value<double>() : po::value<double>()->default_value(v, xbar::format_number(v));
  };
  auto i64 = [&](int64_t v) { return program ? po::value<int64_t>() : po::value<int64_t>()->default_value(v); };
  auto int_ = [&](int v) { return program ? po::value<int>() : po::value<int>()->default_value(v); };
  auto str = [&](const std::string& v) { return program ? po::value<std::string>() : po::value<std::string>()->default_value(v); };
  auto flag = [&](bool v) {
    return program ? po::value<bool>() : po::value<bool>()->default_value(v, v ? "true" : "false");
  };
  // The tiles' array, wire, cell and solver keys are solve's, the compensation keys calibrate's.
  const RunConfig d;
  po::options_description solve_keys;
  solve_keys.add(array_keys(d)).add(wire_keys(d)).add(solver_keys("solve", d));
  const po::options_description calib_keys = calibrate_keys("calibrate", d);
  po::options_description all;

  po::options_description general("General");
  if (!program)
    general.add_options()
        ("help", "print this help and exit")
        ("config", po::value<std::string>(), "INI file with any of these keys (`key = value`)")
        ("out", po::value<std::string>(), sub == "train" ? "output directory: model.pt, train.json (required)"
                                                         : "output directory: accuracy.json (required)")
        ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout")
        ("seed", po::value<int64_t>()->default_value(int64_t(td.seed)),
         sub == "train" ? "seed of the weight initialisation, the shuffling and every HAT draw (>= 0)"
                        : "seed of every tile's programming draws and of the read noise (>= 0)")
        ("data-dir", po::value<std::string>()->default_value(td.data_dir),
         "Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)");
  general.add_options()("threads", int_(td.threads),
                        sub == "train" ? "libtorch intra-op threads (fixed for reproducibility)"
                                       : "threads: libtorch (software accuracy) and hardware batches");
  all.add(general);

  if (sub == "train") {
    po::options_description t("Training");
    t.add_options()
        ("model", po::value<std::string>()->default_value(nn::to_string(td.architecture)),
         "architecture: mlp (784-256-128-10) | cnn (LeNet-5-like, convolutions lowered by im2col)")
        ("hat", po::bool_switch(), "hardware-aware training: inject the non-idealities below in every forward pass")
        ("epochs", po::value<int>()->default_value(td.epochs), "passes over the training images")
        ("batch-size", po::value<int64_t>()->default_value(td.batch_size), "images per optimiser step")
        ("lr", po::value<double>()->default_value(td.learning_rate, xbar::format_number(td.learning_rate)),
         "Adam learning rate")
        ("train-subset", po::value<int64_t>()->default_value(td.train_subset), "first N training images; 0 = all 60,000")
        ("subset", po::value<int64_t>()->default_value(td.test_subset), "first N test images for the reported accuracy; 0 = all 10,000")
        ("init", po::value<std::string>(), "start from this model.pt (same architecture), e.g. HAT fine-tuning of a plain model");
    all.add(t);
    const nn::HatOptions h;
    po::options_description hat("Hardware-aware training (--hat): the non-idealities injected (same keys as evaluate)");
    hat.add_options()
        ("g-min", num(h.g_min_s), "device window low end [S] (only g-min / g-max matters)")
        ("g-max", num(h.g_max_s), "device window high end [S]")
        ("levels", i64(h.levels), "uniform conductance levels; 0 = continuous")
        ("variation", str(h.variation), "programming variation: none|gaussian|lognormal")
        ("variation-sigma", num(h.variation_sigma), "relative programming sigma")
        ("stuck-on-rate", num(h.stuck_on_rate), "fraction of cells stuck at g-max")
        ("stuck-off-rate", num(h.stuck_off_rate), "fraction of cells stuck at g-min")
        ("read-noise-sigma", num(h.read_noise_sigma), "relative read noise sigma")
        ("defect-aware", flag(h.defect_aware), "stuck cells as the hardware's defect-aware pairs see them (evaluate --defect-aware)")
        ("dac-bits", int_(h.dac_bits), "DAC bits of the layer inputs; 0 = unlimited")
        ("adc-bits", int_(h.adc_bits), "ADC bits of each tile's partial sums; 0 = unlimited")
        ("tile-rows", i64(h.tile_rows), "inputs per crossbar tile (the ADC sees partial sums of this many rows)");
    all.add(hat);
    return all;
  }

  po::options_description e(program ? "Neural network (program --model)" : "Model and data");
  e.add_options()("model", po::value<std::string>(),
                  program ? "program the crossbar tiles of this model.pt instead of a conductance matrix"
                          : "the model to evaluate (required): DIR/model.pt from `xbar train`, or a TorchScript "
                            "module (torch.jit.save of torch.jit.script/trace of any model) whose nn.Linear, "
                            "nn.Conv1d and nn.Conv2d layers run on tiles, the rest in libtorch");
  if (!program)
    e.add_options()
        ("hat-model", po::value<std::string>(),
         "a hardware-aware trained model (same architecture, same kind of file): its compensated accuracy is `hat`")
        ("data", po::value<std::string>(),
         "a data set of .npy files instead of Fashion-MNIST: DIR/test_inputs.npy (N x ..., float32/float64), "
         "DIR/test_labels.npy (N integers), DIR/calib_inputs.npy (M x ..., same sample shape: DAC/ADC ranges); "
         "a built-in model takes samples of 784 values")
        ("input-shape", po::value<std::string>()->default_value("1,28,28"),
         "TorchScript models on Fashion-MNIST: the shape one image is given in, e.g. 1,28,28 or 784")
        ("subset", po::value<int64_t>(), "first N test images (default: all 10,000; nonlinear cells: 100)")
        ("calib-images", po::value<int64_t>()->default_value(ed.calib_images),
         "training images that set the DAC full scale per layer and the ADC range per tile");
  e.add_options()
      ("compensate", flag(ed.compensate),
       program ? "apply the IR-drop compensation map before programming (default true)"
               : "also evaluate with the IR-drop compensation map applied before programming")
      ("tile-details", flag(ed.tile_details), "per-tile entries in the JSON output")
      ("defect-aware", flag(hd.defect_aware),
       "differential pairs: reprogram the healthy partner of a stuck cell (known from write-verify) so the "
       "pair keeps its difference");
  all.add(e);

  po::options_description m("Mapping, DAC and ADC");
  m.add_options()
      ("tile-rows", i64(hd.mapping.tile_rows), "crossbar tile rows (inputs); edge tiles are smaller")
      ("tile-cols", i64(hd.mapping.tile_cols), "crossbar tile columns (bit lines)")
      ("weight-encoding", str(nn::to_string(hd.mapping.encoding)),
       "differential (G+/G- column pairs) | offset (one column per weight + a reference column per tile)");
  if (!program)  // `program` has v-read already (program_cell_keys: also the flash verify read)
    m.add_options()("v-read", num(hd.v_read_v),
                    "DAC full scale [V]: the largest layer input drives this voltage (flash: also the verify read)");
  m.add_options()
      ("dac-bits", int_(hd.dac_bits), "DAC resolution of the row voltages over [0, v-read]; 0 = unlimited")
      ("adc-bits", int_(hd.adc_bits), "ADC resolution of each signed output current; 0 = unlimited")
      ("adc-i-max", num(hd.adc_i_max_a), "ADC range +-this [A]; 0 = per tile, largest current on the calibration images")
      ("read-noise-sigma", num(hd.read_noise.relative_sigma), "cycle-to-cycle read noise, relative sigma, fresh every read");
  all.add(m);
  if (!program) {
    // `program` has these already (program_options): device window and programming stages.
    all.add(device_keys(d));
  }
  all.add(pick_options("Wires, drivers and sensing (per tile)", solve_keys,
                       {"r-row", "r-col", "r-driver", "r-sense", "drive", "sense"}));
  // `program` has the cell's own keys already (program_cell_keys); the rest are the tiles'.
  const std::set<std::string> program_has = {"cell", "v-gate", "gate", "flash-beta", "flash-n", "temperature"};
  po::options_description cells("Cells and solver");
  for (const std::string k : {"cell", "nl-k", "sel-i0", "sel-v0", "mos-vto", "mos-kp", "mos-wl", "mos-lambda",
                              "mos-gmin", "v-gate", "gate", "flash-beta", "flash-n", "temperature", "backend",
                              "reltol", "vntol", "abstol", "max-iterations", "max-step"})
    if (!(program && program_has.count(k)))
      for (const auto& o : solve_keys.options())
        if (o->long_name() == k) cells.add(o);
  all.add(cells);
  if (!program)  // `program` has them already (flash_program_keys); the tiles' targets are conductances
    all.add(pick_options("Flash tiles (cell = flash): program-verify and retention", flash_program_keys(d),
                         {"flash-erase-vth", "flash-erase-sigma", "pv-step", "pv-sigma", "pv-tol", "pv-max-pulses",
                          "retention-time", "retention-tau", "retention-alpha", "retention-alpha-sigma"}));
  po::options_description comp = pick_options("Compensation", calib_keys, {"comp-tol", "comp-max-iterations"});
  comp.add_options()("scale", str(xbar::calib::scale_key(hd.comp)),
                     "compensated tiles: per-column = the largest gain <= 1 per differential pair that fits every "
                     "cell under g-max, each output divided by its own gain and its ADC range in proportion "
                     "(offset encoding and nonlinear cells: one per tile; a tile whose per-column map does not converge "
                     "takes one gain if that converges) | auto = one gain per tile");
  comp.add_options()("map-cache", po::value<std::string>(),
                     "directory of finished compensation maps (created if missing; linear cells): a tile whose map "
                     "is there -- same target conductances, wires, device window, compensation keys and xbar "
                     "version -- takes it instead of computing it, and every map computed is added. Reused across "
                     "runs that differ only in read-time keys (adc-bits, read-noise-sigma, variation and its seed, "
                     "stuck-*, drift-*, dac-bits); default: none");
  all.add(comp);
  return all;
}

void reject_nn_keys_without_model(const po::variables_map& vm) {
  const po::options_description keys = nn_keys("program");
  for (const auto& o : keys.options()) {
    const std::string k = o->long_name();
    if (vm.count(k) && !vm[k].defaulted())
      throw InputError("key " + k + ": only with --model (programming a network's tiles); a plain `program` "
                       "programs the conductance matrix of --g or a random one");
  }
}

namespace {

// "1,28,28" -> {1, 28, 28}: positive extents.
std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> r;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string part = xbar::trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    char* end = nullptr;
    errno = 0;
    const long long v = part.empty() ? 0 : std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || errno || v < 1 || v > (int64_t(1) << 31))
      throw InputError("key input-shape = '" + text + "': expected positive integers separated by commas, e.g. 1,28,28");
    r.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (r.size() > 8) throw InputError("key input-shape = '" + text + "': at most 8 dimensions");
  return r;
}

}  // namespace

nn::HardwareOptions make_hardware_options(const po::variables_map& vm) {
  nn::HardwareOptions h;
  std::string s;
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0) throw InputError("key seed = " + std::to_string(seed) + ": must be >= 0");
  h.seed = uint64_t(seed);
  get_opt(vm, "defect-aware", h.defect_aware);
  get_opt(vm, "threads", h.threads);
  get_opt(vm, "tile-rows", h.mapping.tile_rows);
  get_opt(vm, "tile-cols", h.mapping.tile_cols);
  if (get_opt(vm, "weight-encoding", s)) h.mapping.encoding = nn::parse_weight_encoding(s);
  get_opt(vm, "v-read", h.v_read_v);
  get_opt(vm, "dac-bits", h.dac_bits);
  get_opt(vm, "adc-bits", h.adc_bits);
  get_opt(vm, "adc-i-max", h.adc_i_max_a);
  get_opt(vm, "read-noise-sigma", h.read_noise.relative_sigma);
  {
    // The device window and the programming stages, parsed as `program` parses them.
    RunConfig p;
    fill_program_config(p, vm);
    h.programming = p.programming;
    h.mapping.range = p.programming.range;
    if (!p.level_table_path.empty()) {
      h.programming.levels.table_s = devices::read_level_table(p.level_table_path);
      h.programming.levels.table_source = p.level_table_path;
    }
    if (!p.stuck_mask_path.empty())
      throw InputError("key stuck-mask: a defect map describes one array; the network's tiles draw their defects "
                       "from --stuck-on-rate / --stuck-off-rate");
  }
  get_opt(vm, "r-row", h.wires.r_row_ohm);
  get_opt(vm, "r-col", h.wires.r_col_ohm);
  get_opt(vm, "r-driver", h.wires.r_driver_ohm);
  get_opt(vm, "r-sense", h.wires.r_sense_ohm);
  h.wires.drive = xbar::netlists::parse_drive_side(vm["drive"].as<std::string>());
  h.wires.sense = xbar::netlists::parse_sense_side(vm["sense"].as<std::string>());
  get_opt(vm, "cell", h.cell);
  get_opt(vm, "nl-k", h.cell_params.nl_k_per_v);
  get_opt(vm, "sel-i0", h.cell_params.sel_i0_a);
  get_opt(vm, "sel-v0", h.cell_params.sel_v0_v);
  get_opt(vm, "mos-vto", h.cell_params.mos_vto_v);
  get_opt(vm, "mos-kp", h.cell_params.mos_kp_a_per_v2);
  get_opt(vm, "mos-wl", h.cell_params.mos_w_over_l);
  get_opt(vm, "mos-lambda", h.cell_params.mos_lambda_per_v);
  get_opt(vm, "mos-gmin", h.cell_params.mos_gmin_s);
  get_opt(vm, "v-gate", h.cell_params.v_gate_v);
  if (get_opt(vm, "gate", s)) h.cell_params.set_gate_layout(devices::parse_gate_layout(s));
  get_opt(vm, "flash-beta", h.cell_params.flash_beta_a_per_v2);
  get_opt(vm, "flash-n", h.cell_params.flash_n);
  get_opt(vm, "temperature", h.cell_params.temperature_k);
  {
    // Flash tiles: program-verify and retention, parsed as `program --cell flash` parses them.
    const char* flash_only[] = {"flash-erase-vth", "flash-erase-sigma", "pv-step", "pv-sigma", "pv-tol",
                                "pv-max-pulses", "retention-time", "retention-tau", "retention-alpha",
                                "retention-alpha-sigma", "pv-target", "v-gate-lines"};
    auto given = [&](const char* k) { return vm.count(k) && !vm[k].defaulted(); };
    if (h.cell != "flash") {
      for (const char* k : flash_only)
        if (given(k))
          throw InputError(std::string("key ") + k + ": a flash programming key, and cell = " + h.cell +
                           " tiles are programmed as conductances (give --cell flash)");
    } else {
      if (given("v-gate-lines"))
        throw InputError("key v-gate-lines: one gate voltage per line of one array; a network's tiles (of "
                         "different sizes) take --v-gate for every word line");
      RunConfig f;
      f.v_read_v = h.v_read_v;
      fill_flash_program_config(f, vm);
      if (f.flash_target != devices::FlashTarget::kConductance)
        throw InputError("key pv-target = " + devices::to_string(f.flash_target) +
                         ": a network's tiles program the conductance-equivalent targets of its weights");
      h.flash.program = f.flash_program;
      h.flash.retention = f.retention;
    }
  }
  if (get_opt(vm, "backend", s)) h.solver.backend = xbar::solvers::parse_backend(s);
  get_opt(vm, "reltol", h.solver.newton.reltol);
  get_opt(vm, "vntol", h.solver.newton.vntol_v);
  get_opt(vm, "abstol", h.solver.newton.abstol_a);
  get_opt(vm, "max-iterations", h.solver.newton.max_iterations);
  get_opt(vm, "max-step", h.solver.newton.max_step_v);
  get_opt(vm, "comp-tol", h.comp.tol);
  get_opt(vm, "comp-max-iterations", h.comp.max_iterations);
  if (get_opt(vm, "map-cache", h.map_cache) && h.map_cache.empty())
    throw InputError("key map-cache: expected a directory name (leave the key out for no cache)");
  if (get_opt(vm, "scale", s)) {
    if (s != "per-column" && s != "auto")
      throw InputError("key scale = '" + s + "': network tiles take per-column or auto (each tile's scale is searched)");
    xbar::calib::parse_scale_key(s, h.comp);
  }
  return h;
}

commands::NnRunConfig make_nn_config(const std::string& sub, const po::options_description& desc,
                                         const po::variables_map& vm, const std::set<std::string>& from_cli) {
  commands::NnRunConfig c;
  c.command = sub;
  c.config_json = config_to_json(desc, vm, from_cli);
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0) throw InputError("key seed = " + std::to_string(seed) + ": must be >= 0");
  std::string out;
  get_opt(vm, "out", out);
  const bool quiet = vm["quiet"].as<bool>();
  if (sub == "train") {
    nn::TrainOptions& t = c.train;
    t.architecture = nn::parse_architecture(vm["model"].as<std::string>());
    t.seed = uint64_t(seed);
    t.out = out;
    t.quiet = quiet;
    get_opt(vm, "data-dir", t.data_dir);
    get_opt(vm, "threads", t.threads);
    get_opt(vm, "epochs", t.epochs);
    get_opt(vm, "batch-size", t.batch_size);
    get_opt(vm, "lr", t.learning_rate);
    get_opt(vm, "train-subset", t.train_subset);
    get_opt(vm, "subset", t.test_subset);
    get_opt(vm, "init", t.init_path);
    nn::HatOptions& h = t.hat;
    h.enabled = vm["hat"].as<bool>();
    get_opt(vm, "g-min", h.g_min_s);
    get_opt(vm, "g-max", h.g_max_s);
    get_opt(vm, "levels", h.levels);
    get_opt(vm, "variation", h.variation);
    get_opt(vm, "variation-sigma", h.variation_sigma);
    get_opt(vm, "stuck-on-rate", h.stuck_on_rate);
    get_opt(vm, "stuck-off-rate", h.stuck_off_rate);
    get_opt(vm, "read-noise-sigma", h.read_noise_sigma);
    get_opt(vm, "defect-aware", h.defect_aware);
    get_opt(vm, "dac-bits", h.dac_bits);
    get_opt(vm, "adc-bits", h.adc_bits);
    get_opt(vm, "tile-rows", h.tile_rows);
    if (!h.enabled)
      for (const char* k : {"levels", "variation", "variation-sigma", "stuck-on-rate", "stuck-off-rate",
                            "read-noise-sigma", "defect-aware", "dac-bits", "adc-bits"})
        if (vm.count(k) && !vm[k].defaulted())
          throw InputError(std::string("key ") + k + ": a non-ideality to inject needs --hat (hardware-aware training)");
    t.validate();
    return c;
  }
  commands::EvaluateOptions& e = c.eval;
  std::string s;
  e.out = out;
  e.quiet = quiet;
  get_opt(vm, "model", e.model_path);
  get_opt(vm, "hat-model", e.hat_model_path);
  get_opt(vm, "data-dir", e.data_dir);
  e.subset_given = get_opt(vm, "subset", e.subset);
  e.calib_images_given = vm.count("calib-images") && !vm["calib-images"].defaulted();
  get_opt(vm, "calib-images", e.calib_images);
  get_opt(vm, "data", e.data_npy_dir);
  if (get_opt(vm, "input-shape", s)) e.input_shape = parse_shape(s);
  get_opt(vm, "compensate", e.compensate);
  get_opt(vm, "tile-details", e.tile_details);
  e.hw = make_hardware_options(vm);
  const nn::HardwareOptions& h = e.hw;
  if (sub == "program") {
    for (const char* k : {"g", "g-on", "g-off", "rows", "cols"})
      if (vm.count(k) && !vm[k].defaulted())
        throw InputError(std::string("keys --model and --") + k + " both given: with --model the targets are the "
                         "network's weights, mapped onto tiles");
    h.validate();
  } else {
    e.validate();
  }
  return c;
}

}  // namespace xbar::engine::cli
