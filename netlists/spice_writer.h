// SPICE writer: a Circuit as an ngspice deck, for `ngspice -b` or libngspice.
//
//   std::ofstream f("array.cir");
//   netlists::write_spice(f, circuit, {"rows 64, cols 64", "r_row_ohm 2.5"});
//   auto lines = netlists::spice_lines(circuit, {});   // the same deck, one string per line
//
// Deck layout: the title line ("* " + title; ngspice always takes the FIRST line as the title,
// whatever it holds, so it is also a comment for readers that do not), the header comments
// each as "* text" (a comment containing '\n' becomes several comment lines), one line per
// element in element order, then ".op" and ".end" as the options ask.
//
// Transient decks (SpiceWriteOptions::c_row_f / c_col_f and ::transient): after the elements,
// one capacitor to ground per crossbar grid node, "crow_{i}_{j} r{i}_{j} 0 C" and
// "ccol_{i}_{j} c{i}_{j} 0 C" (only for a nonzero capacitance, so a DC deck without any is
// byte for byte what it was); the row sources (roles kSourceLeft / kSourceRight) become steps
// "vrowl_{i} n+ n- pwl(0 0 t_rise V)" from 0 V at t = 0 to their value, a linear ramp over
// t_rise (ngspice's PWL needs increasing times, so an ideal step is a short ramp); every other
// source keeps its DC value; and ".tran t_step t_stop 0 t_max" replaces ".op". ngspice's
// operating point at t = 0 then has every row at 0 V: the capacitors start discharged.
//
// Element lines (names from Circuit::element_name(), nodes from Circuit::node_name()):
//   resistor, R != 0      rname n+ n- R
//   resistor, R == 0      vrname n+ n- dc 0    an ideal short is a 0 V source: ngspice would
//                                             otherwise clamp R = 0 to a small resistance
//   linear cell, G != 0   rname n+ n- 1/G
//   linear cell, G == 0   * rname open (G = 0)  an open circuit has no element at all
//   nonlinear cell        CellModel::spice_card() (B-sources); a three-terminal cell
//                         (flash) CellModel::gated_spice_card() with its gate node
//   voltage source        vname n+ n- dc V
//   current source        iname n+ n- dc I
//   transistor            mname drain gate source source xbar_nmos{k} w=W/L l=1
//                         (bulk on the source; L = 1 so that ngspice's KP W / L is KP * (W/L)
//                         bitwise). After the elements, before ".op": one `.model xbar_nmos{k}
//                         nmos level=1 ...` card per transistor model (Mos1Transistor::
//                         spice_model_card) and `.options gmin=` set to the models' gmin,
//                         which must agree (ngspice's gmin is global).
// A name whose first letter does not already say its SPICE kind gets that letter prefixed
// ('r', 'v', 'i', 'm'), because ngspice decides the element kind by the first letter alone.
// Numbers are the shortest decimal that reads back to the same double (std::to_chars), so
// read_spice() restores every value bitwise.
//
// Errors (xbar::InputError): a cell model without a two-terminal card (1t1r: expand it with
// build_crossbar), a cell or transistor whose model index is out of range, a non-finite
// element value, transistor models with different gmin, or an output stream that failed.
// Lines before the offending element may already have been written.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "netlists/circuit.h"

namespace xbar::netlists {

// The .tran card of a transient deck and the row steps it drives (see the file comment).
struct TransientCard {
  // End of the analysis, seconds; > 0 makes the deck a transient deck, 0 (default) a DC one.
  double t_stop_s = 0;
  // .tran TSTEP, seconds, in (0, t_stop_s]: ngspice's output increment and first-step guess.
  double t_step_s = 0;
  // .tran TMAX, seconds, >= 0: the largest internal step ngspice may take; 0 leaves it out
  // (ngspice then uses min(TSTEP, (TSTOP - TSTART) / 50)).
  double t_max_s = 0;
  // Rise time of the row steps, seconds, in (0, t_stop_s): the PWL ramp from 0 V at t = 0 to
  // the source value at t_rise_s.
  double t_rise_s = 0;
  bool given() const { return t_stop_s > 0; }
};

struct SpiceWriteOptions {
  // Text of the title line (written as "* " + title). Must be a single line: a newline would
  // turn the rest into a deck line.
  std::string title = "xbar crossbar deck";
  // Emit the analysis card: ".op" (an operating point is all a resistive crossbar needs, and
  // without an analysis card `ngspice -b` parses the deck and simulates nothing), or ".tran"
  // for a transient deck.
  bool add_op = true;
  // Emit ".end". ngspice tolerates its absence in a file but libngspice's ngSpice_Circ()
  // needs it to know the circuit is complete, hence the default.
  bool add_end = true;
  // Capacitance to ground at every row / column node of the circuit's crossbar grid
  // (Circuit::set_grid), farads, finite and >= 0 (CrossbarSpec::c_row_f / c_col_f). Nonzero
  // on a circuit without a grid is an error.
  double c_row_f = 0;
  double c_col_f = 0;
  // A transient deck when transient.given() (see the file comment).
  TransientCard transient;

  // Throws xbar::InputError naming the field when an option is out of range.
  void validate() const;
};

// Writes the deck for `c` to `out`. Buffered internally in large chunks: a 2048 x 2048
// crossbar is about 12.6 million lines.
void write_spice(std::ostream& out, const Circuit& c,
                 const std::vector<std::string>& header_comments,
                 const SpiceWriteOptions& opt = {});

// The same deck as write_spice(), one string per line without the '\n' (the form
// libngspice's ngSpice_Circ() takes).
std::vector<std::string> spice_lines(const Circuit& c,
                                     const std::vector<std::string>& header_comments,
                                     const SpiceWriteOptions& opt = {});

// The name element k has in the written deck (lowercase): its Circuit name, prefixed by the
// element letter when it lacks it (ngspice picks the kind from the first letter); a zero-ohm
// resistor, written as a 0 V source, gets a 'v' in front. This is the name to `alter` and
// the name of its "#branch" vector in ngspice.
std::string spice_element_name(const Circuit& c, size_t k);

}  // namespace xbar::netlists
