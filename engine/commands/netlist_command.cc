// `xbar netlist`: the crossbar of a RunConfig as a SPICE deck for `ngspice -b`.
#include <iostream>
#include <string>
#include <vector>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/io/atomic_file.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_writer.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using namespace detail;

int run_netlist(const RunConfig& cfg) {
  if (cfg.out.empty()) throw InputError("key out: netlist needs --out FILE.cir");
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
  io::write_file_atomically(cfg.out, [&](std::ostream& os) { netlists::write_spice(os, x.circuit, header); });
  if (!cfg.quiet)
    std::cout << "wrote " << cfg.out << ": " << a.spec.rows << " x " << a.spec.cols << " crossbar, "
              << x.circuit.elements().size() << " elements, " << x.circuit.num_nodes() << " nodes\n";
  return 0;
}

}  // namespace xbar::engine::commands
