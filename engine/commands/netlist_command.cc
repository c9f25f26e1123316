// `xbar netlist`: the crossbar of a RunConfig as a SPICE deck for `ngspice -b`.
#include <iostream>
#include <string>
#include <vector>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/preflight.h"
#include "engine/io/atomic_file.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_writer.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using namespace detail;

namespace {
// An ideal step in a transient deck: a PWL ramp of this fraction of the fixed time step, or of
// t-stop when the steps are ngspice's own; short enough that the ramp shifts the waveforms by
// far less than one step changes them (transient_referee.h takes 1e-3 of the native step).
constexpr double kIdealRiseOfStep = 1e-3;
constexpr double kIdealRiseOfStop = 1e-6;
// Vectors per .print card of a transient deck: ngspice -b prints each card as its own table,
// 80 characters wide, which holds the index, the time and three vectors (more would be split
// into tables of their own anyway).
constexpr int kPrintPerLine = 3;
}  // namespace

int run_netlist(const RunConfig& cfg) {
  if (cfg.out.empty()) throw InputError("key out: netlist needs --out FILE.cir");
  preflight(cfg);
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  if (in.v.rows() != 1)
    throw InputError(cfg.v_path + ": a deck holds one operating point, so --v must be one vector "
                     "of M = " + std::to_string(a.spec.rows) + " volts, not " +
                     std::to_string(in.v.rows()) + " inputs");
  auto x = netlists::build_crossbar(a.spec, a.g, a.cell);
  netlists::set_row_voltages(x, in.v.row(0).transpose());
  std::vector<std::string> header = {
      "xbar " + std::string(XBAR_VERSION) + " crossbar " + std::to_string(a.spec.rows) + " x " +
          std::to_string(a.spec.cols) + " (" + std::to_string(a.spec.unknowns()) + " grid nodes)",
      "r-row " + fmt(a.spec.row_segment_ohm(), 17) + " ohm/segment, r-col " +
          fmt(a.spec.col_segment_ohm(), 17) + " ohm/segment, r-driver " +
          fmt(a.spec.r_driver_ohm, 17) + " ohm, r-sense " + fmt(a.spec.r_sense_ohm, 17) + " ohm",
      "drive " + netlists::to_string(a.spec.drive) + ", sense " + netlists::to_string(a.spec.sense) +
          ", cell " + cfg.cell + (a.flash.is_null() ? ", conductances " : a.programmed ? ", thresholds programmed from " : ", thresholds ") +
          a.source.dump(),
      "column j current = sum of i(vsnsb_j) and i(vsnst_j) (current into the virtual ground)"};
  netlists::SpiceWriteOptions w;
  w.c_row_f = a.spec.c_row_f;
  w.c_col_f = a.spec.c_col_f;
  if (cfg.transient_deck) {
    // The deck xbar check --transient hands ngspice (solvers/transient_referee.h): TSTEP the
    // fixed step or t-stop / 1000, TMAX the fixed step (ngspice's default when 0), the row
    // steps as PWL ramps over t-rise; an ideal step is a ramp far shorter than any step (PWL
    // needs increasing times).
    const solvers::TransientOptions& t = cfg.transient.transient;
    w.transient.t_stop_s = t.t_stop_s;
    w.transient.t_step_s = t.time_step_s > 0 ? t.time_step_s : t.t_stop_s / 1000;
    w.transient.t_max_s = t.time_step_s;
    w.transient.t_rise_s = t.t_rise_s > 0 ? t.t_rise_s : t.time_step_s > 0 ? kIdealRiseOfStep * t.time_step_s
                                                                          : kIdealRiseOfStop * t.t_stop_s;
    header.push_back("transient: rows step from 0 V at t = 0 (PWL ramp of " + fmt(w.transient.t_rise_s, 17) +
                     " s), c-row " + fmt(a.spec.c_row_f, 17) + " F, c-col " + fmt(a.spec.c_col_f, 17) +
                     " F per node; .tran to " + fmt(t.t_stop_s, 17) + " s");
  }
  // `ngspice -b` simulates a .tran deck only when it prints something: the column currents
  // (every virtual-ground source), kPrintPerLine vectors per .print card.
  std::vector<std::string> prints;
  if (cfg.transient_deck) {
    const std::vector<size_t> src = x.circuit.source_indices();
    std::string line;
    int on_line = 0;
    for (int64_t j = 0; j < x.cols(); ++j)
      for (int32_t k : x.sense_sources[size_t(j)]) {
        if (k < 0) continue;
        if (on_line == 0) line = ".print tran";
        line += " i(" + netlists::spice_element_name(x.circuit, src[size_t(k)]) + ")";
        if (++on_line == kPrintPerLine) {
          prints.push_back(line);
          on_line = 0;
        }
      }
    if (on_line > 0) prints.push_back(line);
    w.add_end = false;
  }
  io::write_file_atomically(cfg.out, [&](std::ostream& os) {
    netlists::write_spice(os, x.circuit, header, w);
    if (cfg.transient_deck) {
      for (const std::string& p : prints) os << p << "\n";
      os << ".end\n";
    }
  });
  if (!cfg.quiet)
    std::cout << "wrote " << cfg.out << ": " << a.spec.rows << " x " << a.spec.cols << " crossbar, "
              << x.circuit.elements().size() << " elements, " << x.circuit.num_nodes() << " nodes"
              << (cfg.transient_deck ? ", transient deck (.tran)" : "") << "\n";
  return 0;
}

}  // namespace xbar::engine::commands
