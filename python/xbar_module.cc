// `_xbar`: the pybind11 extension under the `xbar` Python package (python/xbar/). The one
// translation unit that sees pybind11. It adds no engine of its own: every function parses its
// keys with the command line's tables (engine/cli: names, defaults, validation and messages in
// one place) and calls the engine's functions (engine/commands, engine/nn, calib).
//
//   _xbar.run(["solve", "--rows", "8", "--out", "d"])   -> exit status; the subcommand in-process
//   _xbar.run([...], dry_run=True)                       -> 0 or InputError: checks only (sweep's preflight)
//   _xbar.sweep_metrics()                                -> {sub: (result file, [(column, JSON pointer)])}
//   _xbar.keys("solve")                                  -> [(name, takes_value, default, help)]
//   _xbar.load_array(["--rows", "8", ...])               -> (G, array description JSON)
//   _xbar.effective_matrix([...])                        -> (T, summary JSON)
//   _xbar.HardwareLayer(w, [...evaluate keys...], mode, layer_seed)    (xbar.torch)
//
// Errors: xbar::InputError -> _xbar.InputError (a ValueError), xbar::NumericalError ->
// _xbar.NumericalError (a RuntimeError), each with the message the CLI prints after "error:".
// The GIL is released while the engine runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "calib/effective.h"
#include "devices/random_stream.h"
#include "engine/cli/cli_ini.h"
#include "engine/cli/nn_keys.h"
#include "engine/cli/subcommands.h"
#include "engine/cli/sweep_keys.h"
#include "engine/cli/array_keys.h"
#include "engine/commands/command_support.h"
#include "engine/commands/nn_commands.h"
#include "engine/sweep/sweep_commands.h"
#include "engine/nn/hardware_layer.h"
#include "engine/nn/layer_runner.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace py = pybind11;
namespace po = boost::program_options;

namespace xbar::python {

using netlists::RowMatrixXd;

namespace {

struct Parsed {
  po::options_description desc;
  po::variables_map vm;
  std::set<std::string> from_cli;
};

// The keys of `sub` from `args` (flags and values, no subcommand), as engine/cli/main.cc parses
// a command line: no short options, Boost's errors completed by describe_option_error, a
// --config INI under the flags, then notify.
Parsed parse(const std::string& sub, const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"xbar"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  engine::cli::require_utf8_arguments(int(argv.size()), argv.data());
  Parsed p;
  p.desc.add(engine::cli::make_options(sub));
  try {
    const auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_short;
    po::parsed_options parsed =
        po::command_line_parser(int(argv.size()), argv.data()).options(p.desc).style(style).run();
    for (const auto& o : parsed.options) p.from_cli.insert(o.string_key);
    po::store(parsed, p.vm);
  } catch (const po::error& e) {
    std::string user_text;
    for (const std::string& a : args) user_text += a + "\n";
    throw InputError(engine::cli::describe_option_error(p.desc, e, user_text) + " (see xbar " + sub + " --help)");
  }
  if (p.vm.count("config")) engine::cli::store_ini(p.vm["config"].as<std::string>(), p.desc, p.vm);
  po::notify(p.vm);
  return p;
}

// A whole subcommand in-process, as `xbar ARGS...` runs it (engine/cli/main.cc): the exit
// status, or the exception main() would turn into 2 (InputError), 4 (NumericalError) or 1.
// With `dry_run`, only what a sweep checks of a point before any point runs (run_parsed's
// preflight: values, input files by their headers, output names, memory); nothing is written.
int run(const std::vector<std::string>& args, bool dry_run) {
  if (args.empty()) throw InputError("no subcommand given (expected one of xbar --help's subcommands)");
  const std::string sub = args[0];
  if (sub == "optimize")
    throw InputError("optimize is Python itself: use the module xbar.optimize (xbar.optimize.main or python3 -m "
                     "xbar.optimize)");
  if (!engine::cli::is_subcommand(sub))
    throw InputError("unknown subcommand '" + sub + "' (expected netlist, solve, check, program, calibrate, size, "
                     "train, evaluate or sweep; see xbar --help)");
  if (sub == "sweep") {
    if (dry_run) throw InputError("dry_run: use xbar sweep --dry-run");
    std::vector<std::string> all = {"xbar"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    engine::cli::require_utf8_arguments(int(argv.size()), argv.data());
    return engine::cli::run_sweep_command(int(argv.size()), argv.data());
  }
  Parsed p = parse(sub, std::vector<std::string>(args.begin() + 1, args.end()));
  if (p.vm.count("help")) throw InputError("key help: not available from Python (see `xbar " + sub + " --help`)");
  return engine::cli::run_parsed(sub, p.desc, p.vm, p.from_cli, dry_run);
}

struct KeyInfo {
  std::string name;
  bool takes_value = true;  // false: a switch (--quiet, --save-voltages), present or absent
  std::string default_text; // as `--help` shows it, "" without a default
  std::string help;
};

std::vector<KeyInfo> keys(const std::string& sub) {
  if (!engine::cli::is_subcommand(sub) || sub == "sweep" || sub == "optimize")
    throw InputError("keys: '" + sub + "' is not a subcommand with keys of its own (sweep and optimize take an INI)");
  const po::options_description desc = engine::cli::make_options(sub);
  std::vector<KeyInfo> r;
  for (const auto& o : desc.options()) {
    KeyInfo k;
    k.name = o->long_name();
    k.takes_value = o->semantic()->max_tokens() > 0;
    const std::string param = o->format_parameter();  // "arg (=2.5)"
    const auto eq = param.find("(=");
    if (eq != std::string::npos) k.default_text = param.substr(eq + 2, param.size() - eq - 3);
    k.help = o->description();
    r.push_back(k);
  }
  return r;
}

py::array_t<double> to_numpy(const RowMatrixXd& m) {
  py::array_t<double> a({m.rows(), m.cols()});
  std::copy(m.data(), m.data() + m.size(), a.mutable_data());
  return a;
}

RowMatrixXd from_numpy(const py::array_t<double, py::array::c_style | py::array::forcecast>& a, const char* what) {
  if (a.ndim() != 2)
    throw InputError(std::string(what) + ": expected a 2-d array, got " + std::to_string(a.ndim()) + " dimensions");
  return Eigen::Map<const RowMatrixXd>(a.data(), a.shape(0), a.shape(1));
}

// The array of solve's keys: (G, description of where it came from, with the effective config).
std::pair<py::array_t<double>, std::string> load_array(const std::vector<std::string>& args) {
  engine::commands::detail::ArrayInput a;
  {
    py::gil_scoped_release release;
    Parsed p = parse("solve", args);
    const engine::commands::RunConfig cfg = engine::cli::make_array_config("solve", p.desc, p.vm, p.from_cli);
    a = engine::commands::detail::load_array(cfg);
    a.source["config"] = engine::commands::detail::effective_config(cfg, a);
  }
  return {to_numpy(a.g), a.source.dump()};
}

// The exact effective matrix T of the array of solve's keys (linear cells): I = T^T v.
std::pair<py::array_t<double>, std::string> effective_matrix(const std::vector<std::string>& args) {
  calib::Effective e;
  nlohmann::json j;
  {
    py::gil_scoped_release release;
    Parsed p = parse("solve", args);
    const engine::commands::RunConfig cfg = engine::cli::make_array_config("solve", p.desc, p.vm, p.from_cli);
    if (cfg.cell != "linear")
      throw InputError("key cell = " + cfg.cell + ": the effective matrix exists for linear cells only (a nonlinear "
                       "array's currents depend on the inputs: solve them)");
    const engine::commands::detail::ArrayInput a = engine::commands::detail::load_array(cfg);
    e = calib::effective_matrix(a.spec, a.g, cfg.solve.solver);
    j = engine::commands::detail::base_result(cfg, a);
    j["backend"] = e.summary.backend_used;
    j["solve"] = engine::commands::detail::summary_json(e.summary);
    j["solve"]["times_s"]["total_s"] = e.seconds;
  }
  return {to_numpy(e.t), j.dump()};
}

// The hardware of evaluate's keys (the tiles of xbar.torch's layers), validated.
engine::nn::HardwareOptions hardware_options(const std::vector<std::string>& args) {
  Parsed p = parse("evaluate", args);
  engine::nn::HardwareOptions h = engine::cli::make_hardware_options(p.vm);
  h.validate();
  return h;
}

std::string hardware_config(const std::vector<std::string>& args) {
  return engine::commands::hardware_json(hardware_options(args)).dump();
}

// One crossbar layer of xbar.torch: a HardwareLayer (unit `unit` of the model: layer seed
// derive_seed(seed, unit)) and its runner.
class Layer {
 public:
  Layer(const std::string& name, const py::array_t<double, py::array::c_style | py::array::forcecast>& w,
        const std::vector<std::string>& args, const std::string& mode, uint64_t unit) {
    RowMatrixXd wm = from_numpy(w, ("layer " + name + " weights").c_str());
    py::gil_scoped_release release;
    const engine::nn::HardwareOptions h = hardware_options(args);
    auto layer = std::make_shared<engine::nn::HardwareLayer>(name, std::move(wm), h, engine::nn::parse_hardware_mode(mode),
                                                             devices::derive_seed(h.seed, unit));
    runner_ = std::make_shared<engine::nn::LayerRunner>(std::move(layer), h.threads);
    unit_ = unit;
  }

  engine::nn::LayerRunner& runner() { return *runner_; }

  // Products of x (rows x fan_in, float32 as torch computes, or float64), float64 out.
  template <typename T>
  py::array_t<double> mvm(const py::array_t<T, py::array::c_style | py::array::forcecast>& x, int64_t images,
                          uint64_t first_batch, bool calibrating) {
    if (x.ndim() != 2) throw InputError("layer " + runner_->layer().name() + ": inputs must be 2-d (rows x features)");
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const Matrix> xm(x.data(), x.shape(0), x.shape(1));
    py::array_t<double> y({x.shape(0), py::ssize_t(runner_->layer().fan_out())});
    Eigen::Map<RowMatrixXd> ym(y.mutable_data(), y.shape(0), y.shape(1));
    {
      py::gil_scoped_release release;
      runner_->mvm_into(xm, images, first_batch, calibrating, ym);
    }
    return y;
  }

  // New weights on the same chip, or (seed given) on the chip of base seed `seed`.
  void reprogram(const py::array_t<double, py::array::c_style | py::array::forcecast>& w, std::optional<uint64_t> seed) {
    RowMatrixXd wm = from_numpy(w, ("layer " + runner_->layer().name() + " weights").c_str());
    py::gil_scoped_release release;
    std::optional<uint64_t> layer_seed;
    if (seed) layer_seed = devices::derive_seed(*seed, unit_);
    runner_->reprogram(std::move(wm), layer_seed);
  }

 private:
  std::shared_ptr<engine::nn::LayerRunner> runner_;
  uint64_t unit_ = 0;
};

// Programs and solves the tiles of every layer, `threads` at a time (progress on stderr when
// verbose); returns the seconds taken.
double build(const std::vector<Layer*>& layers, int threads, bool verbose) {
  std::vector<engine::nn::HardwareLayer*> all;
  for (Layer* l : layers) all.push_back(&l->runner().layer());
  if (all.empty()) return 0;
  py::gil_scoped_release release;
  engine::nn::HardwareLayer::Progress progress;
  if (verbose) progress = [](const std::string& m) { std::cerr << "xbar.torch: " << m << std::endl; };
  return engine::nn::build_layers(all, threads, all.front()->mode(), progress);
}

}  // namespace
}  // namespace xbar::python

PYBIND11_MODULE(_xbar, m) {
  using namespace xbar::python;
  m.doc() = "xbar's C++ engine (the `xbar` package wraps it; see help(xbar))";
  m.attr("__version__") = XBAR_VERSION;
  static py::exception<xbar::InputError> input_error(m, "InputError", PyExc_ValueError);
  static py::exception<xbar::NumericalError> numerical_error(m, "NumericalError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const xbar::InputError& e) {
      input_error(e.what());
    } catch (const xbar::NumericalError& e) {
      numerical_error(e.what());
    }
  });

  m.def(
      "run",
      [](const std::vector<std::string>& args, bool dry_run) {
        py::gil_scoped_release release;
        return run(args, dry_run);
      },
      py::arg("args"), py::arg("dry_run") = false,
      "Runs `xbar ARGS...` in this process; returns the exit status (input errors raise). dry_run: only the checks "
      "a sweep makes of a point before any runs.");
  m.def(
      "sweep_metrics",
      [] {
        py::dict r;
        for (const auto& c : xbar::engine::sweep::sweep_commands()) {
          std::vector<py::tuple> metrics;
          for (const auto& mt : c.metrics) metrics.push_back(py::make_tuple(mt.column, mt.pointer));
          r[py::str(c.name)] = py::make_tuple(c.result_file, metrics);
        }
        return r;
      },
      "The metrics a sweep reads from each subcommand's result file (engine/sweep/sweep_commands.h): "
      "{subcommand: (result file, [(CSV column, JSON pointer)])}.");
  m.def(
      "keys",
      [](const std::string& sub) {
        std::vector<py::tuple> r;
        for (const KeyInfo& k : keys(sub)) r.push_back(py::make_tuple(k.name, k.takes_value, k.default_text, k.help));
        return r;
      },
      py::arg("subcommand"), "The keys of a subcommand: (name, takes_value, default as --help shows it, help).");
  m.def("load_array", &load_array, py::arg("args"), "(G, JSON description) of the array of solve's keys.");
  m.def("effective_matrix", &effective_matrix, py::arg("args"), "(T, JSON summary): I = T^T v, linear cells.");
  m.def("hardware_config", &hardware_config, py::arg("args"),
        "The hardware of evaluate's keys, validated, as accuracy.json's \"hardware\" (JSON).");
  m.def("build", &build, py::arg("layers"), py::arg("threads"), py::arg("verbose") = false,
        "Programs and solves every tile of the layers; returns the seconds taken.");
  m.attr("EVAL_BATCH_IMAGES") = xbar::engine::nn::kEvalBatchImages;
  m.attr("CALIBRATION_BATCH_BASE") = xbar::engine::nn::kCalibrationBatchBase;
  py::class_<Layer>(m, "Layer", "One crossbar layer on programmed tiles (engine/nn/hardware_layer.h).")
      .def(py::init<const std::string&, const py::array_t<double, py::array::c_style | py::array::forcecast>&,
                    const std::vector<std::string>&, const std::string&, uint64_t>(),
           py::arg("name"), py::arg("weights"), py::arg("args"), py::arg("mode"), py::arg("unit"))
      .def("mvm", &Layer::mvm<float>, py::arg("x").noconvert(), py::arg("images"), py::arg("first_batch"),
           py::arg("calibrating"))
      .def("mvm", &Layer::mvm<double>, py::arg("x"), py::arg("images"), py::arg("first_batch"), py::arg("calibrating"))
      .def("observe_input_max", [](Layer& l, double m) { l.runner().observe_input_max(m); })
      .def("finish_input_calibration", [](Layer& l) { l.runner().finish_input_calibration(); })
      .def("finish_adc_calibration", [](Layer& l) { l.runner().finish_adc_calibration(); })
      .def("reprogram", &Layer::reprogram, py::arg("weights"), py::arg("seed") = py::none())
      .def("summary", [](Layer& l, bool per_tile) { return l.runner().summary_json(per_tile).dump(); },
           py::arg("per_tile") = false)
      .def_property_readonly("name", [](Layer& l) { return l.runner().layer().name(); })
      .def_property_readonly("fan_in", [](Layer& l) { return l.runner().layer().fan_in(); })
      .def_property_readonly("fan_out", [](Layer& l) { return l.runner().layer().fan_out(); })
      .def_property_readonly("tiles", [](Layer& l) { return l.runner().layer().tiles.size(); })
      .def_property_readonly("input_full_scale", [](Layer& l) { return l.runner().layer().x_max; })
      .def_property_readonly("mode", [](Layer& l) { return std::string(to_string(l.runner().layer().mode())); });
}
