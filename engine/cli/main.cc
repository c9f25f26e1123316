// The `xbar` executable: error reporting and exit codes around the command line of
// engine/cli/ (the subcommands and their keys: subcommands.h; INI files: cli_ini.h).
//
// Exit codes: 0 success; 1 internal error; 2 bad input or configuration (the message names
// the file, line or key); 3 `check` found a difference above --tol; 4 numerical failure
// (singular system, ngspice failure); 5 `sweep`: some points failed (their rows say why).
#include <boost/program_options.hpp>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "engine/cli/cli_ini.h"
#include "engine/cli/command_line.h"
#include "engine/cli/optimize_command.h"
#include "engine/cli/subcommands.h"
#include "engine/cli/sweep_keys.h"
#include "solvers/library_threads.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace xbar::engine::cli {
namespace {

int run(int argc, char** argv) {
  require_utf8_arguments(argc, argv);  // they all go into the JSON results
  if (argc < 2) {
    print_general_help(std::cerr);
    return 2;
  }
  const std::string sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    print_general_help(std::cout);
    std::cout << "\nAll keys (`xbar SUBCOMMAND --help` shows which ones a subcommand takes):\n"
              << make_options("all") << "\n";
    return 0;
  }
  if (sub == "--version") {
    std::cout << "xbar " << XBAR_VERSION << "\n";
    return 0;
  }
  if (!is_subcommand(sub))
    throw InputError("unknown subcommand '" + sub + "' (expected netlist, solve, check, program, calibrate, size, train, evaluate, sweep, transient, ppa or optimize; see xbar --help)");

  if (sub == "sweep") return run_sweep_command(argc, argv);
  if (sub == "optimize") return run_optimize_command(argc, argv);  // python3 -m xbar.optimize
  const po::options_description desc = make_options(sub);
  po::variables_map vm;
  std::set<std::string> from_cli;
  parse_command_line(argc, argv, desc, sub, vm, from_cli);
  if (vm.count("help")) {
    std::cout << "usage: xbar " << sub << " [--config FILE.ini] [--key value ...]\n" << desc << "\n";
    return 0;
  }
  std::map<std::string, std::string> written;  // INI key -> "file:line"
  if (vm.count("config")) written = store_ini(vm["config"].as<std::string>(), desc, vm);
  po::notify(vm);
  try {
    return run_parsed(sub, desc, vm, from_cli, false);
  } catch (const InputError& e) {
    throw InputError(locate_in_ini(e.what(), written, from_cli));
  }
}

// glibc hands every block of 32 MiB or more to mmap and gives it back on free, and trims the
// heap top above 128 KiB. The solvers allocate and free the same large blocks over and over (a
// 128 x 128 compensation iteration: right-hand sides, solutions and residuals of 2MN x M
// doubles, 32 MiB each), so every iteration paid for fresh zeroed pages: 17% of a 128 x 128
// calibrate was page faults (0.68 s system time of 4.08 s), and two sweep ranks faulting side
// by side slowed each other down. Blocks up to 256 MiB now come from the heap and are reused,
// and up to 256 MiB of freed memory stays mapped (4.08 s -> 3.44 s, 0.13 s system; peak RSS
// unchanged). Larger blocks (PCG vectors beyond 4096^2) still go to mmap.
void keep_large_blocks() {
#if defined(__GLIBC__)
  constexpr int kBytes = 256 << 20;
  mallopt(M_MMAP_THRESHOLD, kBytes);
  mallopt(M_TRIM_THRESHOLD, kBytes);
#endif
}

}  // namespace
}  // namespace xbar::engine::cli

int main(int argc, char** argv) {
  // OpenBLAS's workers, started before main, stop now and start again for the first
  // factorization large enough to share (solvers/library_threads.h).
  xbar::solvers::park_blas_threads();
  xbar::engine::cli::keep_large_blocks();
  const std::string sub = argc > 1 ? std::string(" ") + argv[1] : "";
  try {
    return xbar::engine::cli::run(argc, argv);
  } catch (const xbar::InputError& e) {
    std::cerr << "xbar" << sub << ": error: " << e.what() << "\n";
    return 2;
  } catch (const xbar::NumericalError& e) {
    std::cerr << "xbar" << sub << ": numerical failure: " << e.what() << "\n";
    return 4;
  } catch (const std::bad_alloc&) {
    std::cerr << "xbar" << sub << ": out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "xbar" << sub << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
