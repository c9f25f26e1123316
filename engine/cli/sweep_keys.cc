#include "engine/cli/sweep_keys.h"

#include <iostream>
#include <string>
#include <vector>

#include "engine/cli/cli_ini.h"
#include "engine/cli/subcommands.h"
#include "engine/sweep/sweep_commands.h"
#include "support/input_error.h"

namespace xbar::engine::cli {

sweep::SweepHooks sweep_hooks() {
  sweep::SweepHooks h;
  h.check_key = [](const std::string& sub, const std::string& key) -> std::string {
    if (!is_subcommand(sub) || sub == "sweep") return "command '" + sub + "' is not a subcommand of this xbar";
    if (make_options(sub).find_nothrow(key, false)) return "";
    return "unknown key '" + key + "' for " + sub + " (see `xbar " + sub + " --help` for its keys)";
  };
  h.run = [](const std::string& sub, const std::vector<sweep::PointKey>& keys, bool dry_run) {
    const po::options_description desc = make_options(sub);
    po::variables_map vm;
    for (const auto& k : keys) store_value(desc, vm, k.key, k.value, k.where + ": ");
    po::notify(vm);
    return run_parsed(sub, desc, vm, {}, dry_run);
  };
  return h;
}

int run_sweep_command(int argc, char** argv) {
  po::options_description desc("xbar sweep");
  desc.add_options()
      ("help", "print this help and exit")
      ("config", po::value<std::string>(), "the sweep INI (grammar below) (required)")
      ("out", po::value<std::string>(), "output directory DIR: sweep.csv, sweep.json, points/ID/ (required)")
      ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout")
      ("retry-failed", po::bool_switch(), "run again the points recorded as failed")
      ("dry-run", po::bool_switch(), "print the points (id, seed, swept keys) as CSV and stop");
  po::variables_map vm;
  try {
    const auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_short;
    po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).style(style).run(), vm);
  } catch (const po::error& e) {
    std::string user_text;  // everything Boost may quote in its message (engine/cli/cli_ini.h)
    for (int k = 1; k < argc; ++k) user_text += std::string(argv[k]) + "\n";
    throw InputError(describe_option_error(desc, e, user_text) +
                     " (see xbar sweep --help)");
  }
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: xbar sweep --config SWEEP.ini --out DIR [--quiet] [--retry-failed] [--dry-run]\n"
                 "       mpirun -np K xbar sweep --config SWEEP.ini --out DIR\n"
              << desc << "\n"
              << "Sweep INI: `key = value` lines of any key of the subcommand (sections ignored, # ; comments).\n"
                 "A value is a comma-separated list; each item is a value, a range start:step:stop (stop\n"
                 "included, robust to rounding: 0.5:0.5:3), an integer range a..b (1..5), or \"a,b\" quoted\n"
                 "(one value holding commas, e.g. sizes = \"16,32,64\"). A key with several values is an axis;\n"
                 "the grid is the Cartesian product of the axes (file order, the last varies fastest).\n"
                 "Keys of the sweep itself:\n"
                 "  command = " << sweep::sweep_command_names() << "   subcommand of every point (required)\n"
                 "  zip = rows, cols          these keys vary together: one axis (lists of equal length)\n"
                 "  sweep-seed = N            without a `seed` key, point seeds derive from N and the point\n"
                 "  sweep-threads = N         OpenMP/OpenBLAS threads of every point (default 1), in one\n"
                 "                            process or under mpirun alike, so results do not depend on the\n"
                 "                            number of ranks (the thread count changes CHOLMOD's rounding)\n"
                 "  max-increase.METRIC = X   nightly check: worse when METRIC rose by > X (or X%)\n"
                 "  max-decrease.METRIC = X   ... fell by > X (or X%)\n"
                 "Each point runs in this process with --out DIR/points/ID and becomes one row of\n"
                 "DIR/sweep.csv (id, swept keys, command, seed, status, exit_code, metrics, error,\n"
                 "version, time_s, finished_utc) and DIR/points/ID/point.json. Re-running the same\n"
                 "command resumes: finished points are skipped. Under mpirun, rank 0 hands points\n"
                 "to the ranks as they ask and writes DIR. Exit: 0 all points ok, "
              << sweep::kExitPointsFailed << " some failed (see\n"
                 "their rows), 2 bad sweep INI or options.\n";
    return 0;
  }
  sweep::SweepOptions o;
  if (vm.count("config")) o.config_path = vm["config"].as<std::string>();
  if (vm.count("out")) o.out_dir = vm["out"].as<std::string>();
  o.quiet = vm["quiet"].as<bool>();
  o.retry_failed = vm["retry-failed"].as<bool>();
  o.dry_run = vm["dry-run"].as<bool>();
  return sweep::run_sweep(o, sweep_hooks());
}

}  // namespace xbar::engine::cli
