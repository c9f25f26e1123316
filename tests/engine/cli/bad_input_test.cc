// The bad-input matrix (issue 9): every way a user can hand xbar a broken file, key or
// circuit, one row each, across the subcommands. For every row the real executable must
//   - exit non-zero: 2 for bad input, 4 for a numerical failure of the data (singular circuit,
//     non-convergence, overflow in a cell);
//   - print exactly one line on stderr, "xbar SUB: ...", naming the file and line, the key,
//     or the node/cell at fault, and what was expected (the row's needles), nothing on stdout;
//   - create nothing under a fresh --out, and leave a previous run's outputs in --out byte for
//     byte and with their modification times (set to an old date first, so a rewrite of the
//     same bytes is caught too);
//   - leave no temporary file behind.
// Inputs that are bad for one reason only: each row differs from a valid run in one thing.
//
// Set XBAR_BAD_INPUT_TABLE=FILE to get the table (case -> exit -> message) as Markdown, as
// quoted in the issue notes:  XBAR_BAD_INPUT_TABLE=/tmp/t.md build/xbar_tests -sf=*bad_input*
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "tests/engine/cli_harness.h"

namespace fs = std::filesystem;
using namespace xbar::cli_test;  // Scratch, Run, run_xbar, Matrix, save, write_raw_npy, ...

namespace {

// Conductances and voltages of the fixtures: a typical RRAM window, positive read voltages.
constexpr double kGLow = 1e-6;
constexpr double kGHigh = 1e-4;
constexpr double kVLow = 0.05;
constexpr double kVHigh = 0.3;

struct BadCase {
  std::string what;                  // the row's name (table, failure messages)
  std::string sub;                   // the subcommand
  std::vector<std::string> args;     // without --out (added by the harness) unless own_out
  std::vector<std::string> needles;  // substrings the message must hold (case-insensitive)
  std::vector<int> exits = {2};      // accepted exit statuses
  bool own_out = false;              // args carry their own --out (unwritable output)
};

// Every file any subcommand writes into its --out directory.
const char* const kOutputNames[] = {
    "currents.npy", "voltages.npy",     "result.json",     "check.json",      "node_voltages.npy",
    "source_currents.npy", "g_programmed.npy", "stuck_mask.npy", "t_effective.npy",
    "g_compensated.npy", "unreachable.npy", "calibration.csv", "calibration.json", "size.csv",
    "model.pt", "train.json", "accuracy.json", "predictions.npy", "times.npy", "waveforms.npy",
    "ngspice_times.npy", "ngspice_waveforms.npy", "ppa.json", "ppa.csv", "regions.npy", "vth_programmed.npy",
    "vth_retained.npy", "pv_status.npy", "pv_pulses.npy", "vth_compensated.npy", "column_scales.npy"};

// A byte-exact .npy whose header is given verbatim (padding and '\n' added here), for
// headers no writer produces. `version` 1 or 2 selects a 2- or 4-byte header length.
void write_npy_with_header(const fs::path& path, const std::string& dict, const std::string& payload,
                           int version = 1) {
  const size_t prefix = version == 1 ? 10 : 12;
  std::string header = dict;
  header += std::string((64 - (prefix + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += char(version);
  bytes += char(0);
  for (size_t b = 0; b < (version == 1 ? 2u : 4u); ++b) bytes += char((header.size() >> (8 * b)) & 0xff);
  write_text(path, bytes + header + payload);
}

// Fixtures for the bad-input cases, all in s.work().
void write_bad_fixtures(const Scratch& s) {
  const int64_t m = 6, n = 5;
  const fs::path w = s.work();
  Matrix g = random_matrix(m, n, kGLow, kGHigh, 1301);
  save(s.file("g.npy"), g);
  save_vector(s.file("v.npy"), random_matrix(1, m, kVLow, kVHigh, 1302).a);
  save_vector(s.file("v_wrong_m.npy"), random_matrix(1, m - 1, kVLow, kVHigh, 1303).a);
  save(s.file("v_batch.npy"), random_matrix(3, m, kVLow, kVHigh, 1304));
  save_vector(s.file("g_1d.npy"), std::vector<double>(g.a.begin(), g.a.begin() + n));
  Matrix gnan = g;
  gnan(2, 3) = std::nan("");
  save(s.file("g_nan.npy"), gnan);
  Matrix gneginf = g;
  gneginf(4, 0) = -std::numeric_limits<double>::infinity();
  save(s.file("g_neginf.npy"), gneginf);
  Matrix gneg = g;
  gneg(1, 2) = -1e-5;
  save(s.file("g_negative.npy"), gneg);
  std::vector<double> vinf = random_matrix(1, m, kVLow, kVHigh, 1305).a;
  vinf[3] = std::numeric_limits<double>::infinity();
  save_vector(s.file("v_inf.npy"), vinf);
  // Finite but extreme: 1 MS cells driven at 1e308 V overflow double precision in the solve.
  save(s.file("g_huge.npy"), Matrix{m, n, std::vector<double>(size_t(m * n), 1e6)});
  save_vector(s.file("v_1e308.npy"), std::vector<double>(size_t(m), 1e308));
  std::vector<double> column_major;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) column_major.push_back(g(i, j));
  write_raw_npy(s.file("g_fortran.npy"), "<f8", true, {m, n}, raw_bytes(column_major));
  write_raw_npy(s.file("g_int64.npy"), "<i8", false, {m, n}, raw_bytes(std::vector<int64_t>(size_t(m * n), 1)));
  write_raw_npy(s.file("g_float16.npy"), "<f2", false, {m, n}, std::string(size_t(m * n * 2), '\0'));
  {  // Big-endian float64: the same values, each one's bytes reversed.
    std::string be = raw_bytes(g.a);
    for (size_t k = 0; k < be.size(); k += 8) std::reverse(be.begin() + long(k), be.begin() + long(k + 8));
    write_raw_npy(s.file("g_big_endian.npy"), ">f8", false, {m, n}, be);
  }
  write_raw_npy(s.file("g_3d.npy"), "<f8", false, {2, 3, 5}, raw_bytes(std::vector<double>(30, 1e-5)));
  write_raw_npy(s.file("g_empty.npy"), "<f8", false, {0, n}, "");
  save(s.file("g_truncated.npy"), g);
  fs::resize_file(w / "g_truncated.npy", fs::file_size(w / "g_truncated.npy") - 7);
  save(s.file("g_trailing.npy"), g);
  std::ofstream(w / "g_trailing.npy", std::ios::app | std::ios::binary) << "junk";
  write_text(w / "g_magic.npy", "M,N\n1e-5,2e-5\n");  // a CSV file renamed to .npy
  write_npy_with_header(w / "g_version.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 5), }",
                        raw_bytes(g.a), 9);
  write_npy_with_header(w / "g_bad_header.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 5}",
                        raw_bytes(g.a));
  {  // A header length that runs past the end of the file.
    std::string bytes = "\x93NUMPY\x01";
    bytes += '\0';
    bytes += "\xff\x7f{'descr': '<f8'";
    write_text(w / "g_header_past_end.npy", bytes);
  }
  {  // program's defect mask, big-endian
    std::string be = raw_bytes(std::vector<double>(size_t(m * n), 0.0));
    write_raw_npy(s.file("mask_big_endian.npy"), ">f8", false, {m, n}, be);
  }

  // Flash cells (issue 18): thresholds of the wrong shape or with a NaN, gate lines of the
  // wrong count, a target of 0 S.
  Matrix vth = random_matrix(m, n, 0.6, 1.8, 1306);
  save(s.file("vth.npy"), vth);
  save_vector(s.file("vth_1d.npy"), std::vector<double>(vth.a.begin(), vth.a.begin() + n));
  Matrix vthnan = vth;
  vthnan(3, 1) = std::nan("");
  save(s.file("vth_nan.npy"), vthnan);
  save_vector(s.file("vgate_5.npy"), std::vector<double>(5, 1.8));
  Matrix gzero = g;
  gzero(0, 4) = 0;
  save(s.file("g_zero.npy"), gzero);

  write_text(w / "unknown_key.ini", "# typo below\n[wires]\nr-rwo = 3.5\n");
  write_text(w / "wrong_type.ini", "[wires]\nr-col = 1\nr-row = abc\n");
  write_text(w / "no_equals.ini", "[wires]\nr-row 3.5\n");
  write_text(w / "negative_r_row.ini", "[wires]\nr-row = -2.5\n");
  write_text(w / "negative_seed.ini", "[array]\nseed = -1\n");
  write_text(w / "rows_overflow.ini", "[array]\nrows = 99999999999999999999\n");
  write_text(w / "rows_fraction.ini", "[array]\nrows = 1.5\n");
  write_text(w / "twice.ini", "r-row = 1\n[again]\nr-row = 2\n");
  write_text(w / "open_section.ini", "[wires\nr-row = 1\n");
  write_text(w / "nested_config.ini", "config = other.ini\n");
  write_text(w / "empty_value.ini", "[wires]\nr-col =\n");
  write_text(w / "notamodel.pt", "not a torch archive\n");
  write_text(w / "size_key_for_program.ini", "[size]\nbudget-lsb = 0.5\n");
  write_text(w / "solve_key_for_program.ini", "[wires]\nr-row = 2.5\n");
  write_text(w / "bool_maybe.ini", "[size]\ncompensate = maybe\n");
  write_text(w / "stuck_rate.ini", "[defects]\nstuck-off-rate = 2\n");
  write_text(w / "scale.ini", "[map]\nscale = 0\n");
  write_text(w / "placeholder.ini", "[wires]\nr-row = %value%\n");
  // Latin-1 text where xbar expects UTF-8 (it records every value in its JSON results).
  write_text(w / "latin1.ini", "[run]\nbackend = cholmod\nout = r\xe9sultat\n");

  write_text(w / "good.cir", "good deck\nr1 a 0 1k\nv1 a 0 1\n.end\n");
  write_text(w / "capacitor.cir", "a deck with a capacitor\nr1 a 0 1k\nc1 a 0 1p\nv1 a 0 1\n.end\n");
  write_text(w / "diode.cir", "a deck with a diode\nr1 a b 1k\nd1 b 0 dmod\nv1 a 0 1\n.end\n");
  write_text(w / "subckt.cir", "a subcircuit\n.subckt cell a b\nr1 a b 1k\n.ends\nv1 a 0 1\n.end\n");
  write_text(w / "negative_r.cir", "a negative resistor\nr1 a 0 -1k\nr2 a 0 1k\nv1 a 0 1\n.end\n");
  write_text(w / "zero_r.cir", "a zero resistor\nr1 a 0 0\nr2 a 0 1k\nv1 a 0 1\n.end\n");
  write_text(w / "not_a_number.cir", "a typo in a value\nr1 a 0 1k\nr2 a 0 2,2k\nv1 a 0 1\n.end\n");
  write_text(w / "dangling.cir", "a dangling node\nr1 a 0 1k\nr2 a b 1k\nv1 a 0 1\n.end\n");
  write_text(w / "duplicate.cir", "a duplicate name\nr1 a 0 1k\nr1 a 0 2k\nv1 a 0 1\n.end\n");
  write_text(w / "empty.cir", "only a title and a comment\n* nothing here\n.end\n");
  write_text(w / "pulse.cir", "a transient source\nr1 a 0 1k\nv1 a 0 pulse(0 1 0 1n 1n 1u 2u)\n.end\n");
  // island_a and island_b are each touched by two terminals (not dangling) but have no DC
  // path to a source or to ground: the nodal matrix is singular.
  write_text(w / "floating.cir",
             "an island\nr1 a 0 1k\nv1 a 0 1\nr2 island_a island_b 1k\nr3 island_b island_a 2k\n.end\n");
  // A subcircuit fed only by a current source: node b has no DC path to ground but through
  // i1, so KCL at it cannot hold (the circuit has no DC solution).
  write_text(w / "current_island.cir",
             "a current-fed island\nr1 a 0 1k\nv1 a 0 1\ni1 a b 1m\nr2 b c 1k\nr3 c b 1k\n.end\n");
  // Two ideal sources in parallel: a voltage-source loop (singular MNA matrix).
  write_text(w / "latin1.cir", "a deck\nr1 a 0 1k\nv1 a 0 1\nr2 a n\xe9ud 1k\nr3 n\xe9ud 0 1k\n.end\n");
  write_text(w / "source_loop.cir", "a source loop\nr1 a 0 1k\nv1 a 0 1\nv2 a 0 2\n.end\n");

  // --- issue 17: hostile input, round 2 ------------------------------------------------
  {  // 0 < G < 1e-30 S (a subnormal: 1/G overflows) and G beyond 1e12 S
    Matrix sub = g, huge = g;
    sub(0, 1) = 5e-324;
    huge(2, 2) = 1e300;
    save(s.file("g_subnormal.npy"), sub);
    save(s.file("g_1e300.npy"), huge);
  }
  write_text(w / "comma_node.cir", "a node name ngspice splits\nv1 a 0 1\nr1 a x,y 1k\nr2 x,y 0 1k\n.end\n");
  write_text(w / "brace_node.cir", "a node name ngspice evaluates\nv1 a 0 1\nr1 a n{1} 1k\nr2 n{1} 0 1k\n.end\n");
  write_text(w / "greek_node.cir", "a node name ngspice mangles\nv1 a 0 1\nr1 a \xce\xa9n 1k\nr2 \xce\xa9n 0 1k\n.end\n");
  write_text(w / "femto.cir", "a femto-ohm resistor\nv1 a 0 1\nr1 a b 1k\nr2 b 0 1f\n.end\n");
  write_text(w / "nul.ini", std::string("[wires]\nr-row = 2\0.5\n", 21));
  write_text(w / "long_line.csv", std::string(100000, '1'));  // one line, beyond 64 KiB
  write_text(w / "sweep_int64.ini", "command = solve\nrows = 4\nseed = -5..9223372036854775807\n");
  write_text(w / "sweep_negative_r.ini", "command = solve\nrows = 4\ncols = 4\nr-row = 1, -1\n");
  write_text(w / "sweep_zero_rows.ini", "command = solve\ncols = 4\nrows = 4, 0\n");
  write_text(w / "sweep_missing_g.ini", "command = check\ng = g.npy, absent.npy\n");
  write_text(w / "sweep_missing_model.ini", "command = evaluate\nmodel = absent_model.pt\n");
  write_text(w / "sweep_duplicate.ini", "command = solve\nrows = 4\nr-row = 1, 2, 1\n");
  write_text(w / "sweep_huge.ini", "command = solve\nseed = 1..1000\nr-row = 1..1000\nr-col = 1, 2\n");

  // Technology files (xbar ppa --technology): complete but for one thing each.
  const std::string tech =
      "[adc]\nadc-fom = 25e-15\nadc-enob = 0\nadc-conversion-time = 1e-9\nadc-area = 2.68e-8\n"
      "[dac]\ndac-energy = 0\ndac-area = 0\n[sense]\ntia-power = 0\ntia-area = 0\n[array]\ncell-pitch = 1e-7\n";
  write_text(w / "tech_missing_key.ini", std::regex_replace(tech, std::regex("tia-power = 0\n"), ""));
  write_text(w / "tech_not_a_number.ini", std::regex_replace(tech, std::regex("adc-fom = 25e-15"), "adc-fom = 25 fJ"));
  write_text(w / "tech_unknown_key.ini", tech + "adc-bits = 8\n");
  write_text(w / "tech_negative.ini", std::regex_replace(tech, std::regex("adc-area = 2.68e-8"), "adc-area = -1"));

  write_text(w / "somefile", "a regular file, not a directory\n");
  fs::create_directory(w / "adir");
  write_text(w / "adir" / "keep.txt", "inside a directory\n");
}

// One row per case. Reading guide: {name, subcommand, arguments, what the message must
// name, accepted exits (default 2), own --out}.
std::vector<BadCase> bad_cases() {
  return {
      // --- .npy inputs --------------------------------------------------------------------
      {"--g not an npy file (wrong magic)", "solve", {"--g", "g_magic.npy"}, {"g_magic.npy", "not an npy file", "numpy.save"}},
      {"--g of shape (N,)", "solve", {"--g", "g_1d.npy"}, {"g_1d.npy", "(M, N)", "(5,)"}},
      {"--g of shape (2, 3, 5)", "calibrate", {"--g", "g_3d.npy"}, {"g_3d.npy", "(M, N)", "(2, 3, 5)"}},
      {"--g of shape (0, 5)", "solve", {"--g", "g_empty.npy"}, {"g_empty.npy", "(0, 5)", "at least 1 row"}},
      {"--v with the wrong M", "solve", {"--g", "g.npy", "--v", "v_wrong_m.npy"}, {"v_wrong_m.npy", "(6,)", "(5,)"}},
      {"NaN in G", "solve", {"--g", "g_nan.npy"}, {"g_nan.npy", "[2, 3]", "NaN"}},
      {"NaN in G (netlist)", "netlist", {"--g", "g_nan.npy"}, {"g_nan.npy", "[2, 3]", "NaN"}},
      {"-inf in G (calibrate)", "calibrate", {"--g", "g_neginf.npy"}, {"g_neginf.npy", "[4, 0]", "-inf"}},
      {"inf in V", "solve", {"--g", "g.npy", "--v", "v_inf.npy"}, {"v_inf.npy", "[3]", "inf"}},
      {"negative G", "solve", {"--g", "g_negative.npy"}, {"g_negative.npy", "[1, 2]", "negative", ">= 0"}},
      {"negative G (check)", "check", {"--g", "g_negative.npy"}, {"g_negative.npy", "[1, 2]", "negative"}},
      {"Fortran-order G", "solve", {"--g", "g_fortran.npy"}, {"g_fortran.npy", "Fortran", "ascontiguousarray"}},
      {"big-endian G", "solve", {"--g", "g_big_endian.npy"}, {"g_big_endian.npy", ">f8", "'<f8'"}},
      {"big-endian defect mask (program)", "program", {"--rows", "6", "--cols", "5", "--stuck-mask", "mask_big_endian.npy"},
       {"mask_big_endian.npy", ">f8", "'<f8'"}},
      {"int64 G", "solve", {"--g", "g_int64.npy"}, {"g_int64.npy", "<i8", "float64"}},
      {"float16 G (size of the dtype)", "check", {"--g", "g_float16.npy"}, {"g_float16.npy", "<f2", "float64"}},
      {"truncated G", "solve", {"--g", "g_truncated.npy"}, {"g_truncated.npy", "240", "233"}},
      {"G with trailing bytes", "program", {"--g", "g_trailing.npy"}, {"g_trailing.npy", "4 bytes of trailing data"}},
      {"npy format version 9.0", "solve", {"--g", "g_version.npy"}, {"g_version.npy", "version 9.0", "1.0, 2.0 or 3.0"}},
      {"npy header with a broken tuple", "solve", {"--g", "g_bad_header.npy"}, {"g_bad_header.npy", "malformed npy header", "offset"}},
      {"npy header length past the end", "solve", {"--g", "g_header_past_end.npy"}, {"g_header_past_end.npy", "truncated npy header"}},
      {"missing --g file", "solve", {"--g", "absent.npy"}, {"absent.npy", "no such file"}},
      {"missing --v file", "check", {"--g", "g.npy", "--v", "absent_v.npy"}, {"absent_v.npy", "no such file"}},
      {"--rows disagreeing with --g", "solve", {"--g", "g.npy", "--rows", "7"}, {"rows = 7", "g.npy", "M = 6"}},
      {"--cols disagreeing with --g", "netlist", {"--g", "g.npy", "--cols", "4"}, {"cols = 4", "g.npy", "N = 5"}},
      {"netlist of a batch of inputs", "netlist", {"--g", "g.npy", "--v", "v_batch.npy"}, {"v_batch.npy", "one"}},
      // --- flags ----------------------------------------------------------------------------
      {"negative --r-row", "solve", {"--g", "g.npy", "--r-row", "-1"}, {"r-row", "-1", ">= 0"}},
      {"NaN --r-col", "solve", {"--g", "g.npy", "--r-col", "nan"}, {"r-col", "nan", "finite"}},
      {"non-numeric --r-row", "solve", {"--g", "g.npy", "--r-row", "abc"}, {"r-row", "abc", "expected a number"}},
      {"unknown flag", "solve", {"--g", "g.npy", "--bogus", "1"}, {"--bogus"}},
      // Boost 1.74 formats "%value%" in its own messages in a loop that never ended when the
      // value held it too (found by tests/fuzz/ini_fuzz.cc; engine/cli/cli_ini.h).
      {"flag value holding Boost's '%value%' placeholder", "solve", {"--g", "g.npy", "--r-row", "%value%"},
       {"--r-row", "expected a number"}},
      {"INI value holding Boost's '%value%' placeholder", "check", {"--g", "g.npy", "--config", "placeholder.ini"},
       {"placeholder.ini:2", "r-row", "%value%", "expected a number"}},
      {"--drive sideways", "solve", {"--g", "g.npy", "--drive", "sideways"}, {"drive", "sideways", "left"}},
      {"--sense sideways", "check", {"--g", "g.npy", "--sense", "sideways"}, {"sense", "sideways", "bottom"}},
      {"--backend foo", "solve", {"--g", "g.npy", "--backend", "foo"}, {"backend", "foo", "native"}},
      {"--backend pcgx", "solve", {"--g", "g.npy", "--backend", "pcgx"}, {"backend", "pcgx", "auto", "pcg"}},
      {"--tol 0 (pcg)", "solve", {"--g", "g.npy", "--backend", "pcg", "--tol", "0"}, {"tol", "0", "(0, 0.01]"}},
      {"--tol 1 (pcg)", "solve", {"--g", "g.npy", "--tol", "1"}, {"tol", "1", "(0, 0.01]"}},
      {"--tol nan (pcg)", "solve", {"--g", "g.npy", "--tol", "nan"}, {"tol", "nan", "(0, 0.01]"}},
      {"--pcg-max-iterations 0", "solve", {"--g", "g.npy", "--pcg-max-iterations", "0"}, {"pcg-max-iterations", "0", ">= 1"}},
      {"check --backend ngspice", "check", {"--g", "g.npy", "--backend", "ngspice"}, {"backend", "ngspice"}},
      {"--nl-k 0 for a sinh cell", "solve", {"--rows", "4", "--cols", "4", "--cell", "sinh", "--nl-k", "0"}, {"nl-k", "0"}},
      {"--seed -3", "program", {"--rows", "3", "--cols", "3", "--seed", "-3"}, {"seed", "-3", ">= 0"}},
      // --- flash cells (issue 18) --------------------------------------------------------------
      {"--flash-beta -1", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--flash-beta", "-1"}, {"flash-beta", "-1", "> 0"}},
      {"--flash-beta 0", "check", {"--rows", "4", "--cols", "4", "--cell", "flash", "--flash-beta", "0"}, {"flash-beta", "0", "> 0"}},
      {"--flash-n 0", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--flash-n", "0"}, {"flash-n", "0", "> 0"}},
      {"--flash-n -1.5 (program)", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--flash-n", "-1.5"}, {"flash-n", "-1.5", "> 0"}},
      {"--temperature 0", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--temperature", "0"}, {"temperature", "0", "> 0"}},
      {"--temperature -20", "calibrate", {"--rows", "4", "--cols", "4", "--cell", "flash", "--temperature", "-20"}, {"temperature", "-20", "> 0"}},
      {"--vth of shape (N,)", "solve", {"--cell", "flash", "--vth", "vth_1d.npy"}, {"vth_1d.npy", "(M, N)", "(5,)"}},
      {"--vth with a NaN", "solve", {"--cell", "flash", "--vth", "vth_nan.npy"}, {"vth_nan.npy", "[3, 1]", "NaN"}},
      {"--vth with a NaN (check)", "check", {"--cell", "flash", "--vth", "vth_nan.npy"}, {"vth_nan.npy", "[3, 1]", "NaN"}},
      {"--vth disagreeing with --rows", "netlist", {"--cell", "flash", "--vth", "vth.npy", "--rows", "3"}, {"rows = 3", "vth.npy", "M = 6"}},
      {"--vth for a linear cell", "solve", {"--vth", "vth.npy"}, {"vth", "flash", "cell = linear"}},
      {"--vth and --g together", "solve", {"--cell", "flash", "--vth", "vth.npy", "--g", "g.npy"}, {"--vth", "--g"}},
      {"--vth in calibrate", "calibrate", {"--cell", "flash", "--vth", "vth.npy"}, {"vth", "conductance-equivalent"}},
      {"--v-gate-lines of the wrong count", "solve", {"--cell", "flash", "--g", "g.npy", "--v-gate-lines", "vgate_5.npy"},
       {"vgate_5.npy", "gate = row", "(6,)", "(5,)"}},
      {"--v-gate-lines for a 1t1r cell", "solve", {"--cell", "1t1r", "--g", "g.npy", "--v-gate-lines", "vgate_5.npy"},
       {"v-gate-lines", "flash"}},
      {"--gate global for a 1t1r cell", "solve", {"--rows", "4", "--cols", "4", "--cell", "1t1r", "--gate", "global"},
       {"gate = global", "1t1r"}},
      {"--gate diagonal", "check", {"--rows", "4", "--cols", "4", "--cell", "flash", "--gate", "diagonal"}, {"gate", "diagonal", "row, column or global"}},
      {"flash target of 0 S", "solve", {"--cell", "flash", "--g", "g_zero.npy"}, {"g_zero.npy", "[0, 4]", "> 0"}},
      {"--g-off 0 for a random flash array", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--g-off", "0"}, {"g-off", "> 0"}},
      {"--read-noise-sigma with flash", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--read-noise-sigma", "0.05"},
       {"read-noise-sigma", "flash"}},
      {"--save-regions for a linear cell", "solve", {"--g", "g.npy", "--save-regions"}, {"save-regions", "flash"}},
      {"--levels with flash (program)", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--levels", "8"},
       {"levels", "program-verify"}},
      {"--g-max with flash (program)", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--g-max", "5e-5"},
       {"g-max", "program-verify"}},
      {"--pv-step for a linear cell (program)", "program", {"--rows", "4", "--cols", "4", "--pv-step", "0.01"},
       {"pv-step", "--cell flash"}},
      {"--pv-step 0", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--pv-step", "0"}, {"pv-step", "0", "> 0"}},
      {"--pv-sigma -1e-3", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--pv-sigma", "-1e-3"}, {"pv-sigma", "-0.001", ">= 0"}},
      {"--pv-tol 1.5", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--pv-tol", "1.5"}, {"pv-tol", "1.5", "(0, 1)"}},
      {"--pv-max-pulses 0", "check", {"--rows", "4", "--cols", "4", "--cell", "flash", "--pv-max-pulses", "0"}, {"pv-max-pulses", "0", ">= 1"}},
      {"--flash-erase-sigma -0.1", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--flash-erase-sigma", "-0.1"},
       {"flash-erase-sigma", "-0.1", ">= 0"}},
      {"--pv-target voltage", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--pv-target", "voltage"},
       {"pv-target", "voltage", "conductance or read-current"}},
      {"--retention-time -1", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--retention-time", "-1"},
       {"retention-time", "-1", ">= 0"}},
      {"--retention-tau 0", "solve", {"--rows", "4", "--cols", "4", "--cell", "flash", "--retention-tau", "0"}, {"retention-tau", "0", "> 0"}},
      {"--retention-alpha -0.01", "program", {"--rows", "4", "--cols", "4", "--cell", "flash", "--retention-alpha", "-0.01"},
       {"retention-alpha", "-0.01", ">= 0"}},
      {"--retention-alpha-sigma nan", "check", {"--rows", "4", "--cols", "4", "--cell", "flash", "--retention-alpha-sigma", "nan"},
       {"retention-alpha-sigma", "nan"}},
      // --- INI files ------------------------------------------------------------------------
      {"unknown INI key", "solve", {"--g", "g.npy", "--config", "unknown_key.ini"}, {"unknown_key.ini:3", "r-rwo", "--help"}},
      {"unknown INI key (check)", "check", {"--g", "g.npy", "--config", "unknown_key.ini"}, {"unknown_key.ini:3", "r-rwo"}},
      {"INI key of another subcommand (program)", "program", {"--config", "size_key_for_program.ini"},
       {"size_key_for_program.ini:2", "unknown key 'budget-lsb'"}},
      // r-row is a key of `program --model` (the tiles' wires), not of a plain `program`.
      {"INI network key without --model (program)", "program", {"--config", "solve_key_for_program.ini"},
       {"r-row", "only with --model"}},
      {"INI value of the wrong type", "solve", {"--g", "g.npy", "--config", "wrong_type.ini"}, {"wrong_type.ini:3", "r-row", "abc", "expected a number"}},
      {"INI integer out of range", "netlist", {"--config", "rows_overflow.ini"}, {"rows_overflow.ini:2", "rows", "99999999999999999999", "expected an integer"}},
      {"INI fraction for an integer", "solve", {"--config", "rows_fraction.ini"}, {"rows_fraction.ini:2", "rows", "1.5", "expected an integer"}},
      {"INI bool that is neither", "size", {"--config", "bool_maybe.ini"}, {"bool_maybe.ini:2", "compensate", "maybe", "true|false"}},
      {"INI value out of range (r-row -2.5)", "solve", {"--g", "g.npy", "--config", "negative_r_row.ini"}, {"r-row", "-2.5", ">= 0"}},
      {"INI value out of range (seed -1)", "check", {"--config", "negative_seed.ini"}, {"seed", "-1", ">= 0"}},
      {"INI value out of range (stuck-off-rate 2)", "program", {"--rows", "3", "--cols", "3", "--config", "stuck_rate.ini"},
       {"stuck-off-rate", "2", "[0, 1]"}},
      {"INI value out of range (scale 0)", "calibrate", {"--rows", "4", "--cols", "4", "--config", "scale.ini"}, {"scale", "0", "(0, 1]"}},
      {"INI key given twice", "solve", {"--g", "g.npy", "--config", "twice.ini"}, {"twice.ini:3", "r-row", "twice"}},
      {"INI section without ']'", "solve", {"--g", "g.npy", "--config", "open_section.ini"}, {"open_section.ini:1", "[wires", "]"}},
      {"INI line without '='", "solve", {"--g", "g.npy", "--config", "no_equals.ini"}, {"no_equals.ini:2", "key = value"}},
      {"INI key without a value", "check", {"--g", "g.npy", "--config", "empty_value.ini"}, {"empty_value.ini:2", "r-col", "no value"}},
      {"INI that names another config", "solve", {"--g", "g.npy", "--config", "nested_config.ini"}, {"nested_config.ini:1", "config", "not allowed"}},
      {"INI value that is not UTF-8 (Latin-1)", "solve", {"--g", "g.npy", "--config", "latin1.ini"},
       {"latin1.ini:3", "not valid UTF-8", "0xe9"}},
      {"argument that is not UTF-8 (Latin-1 file name)", "solve", {"--g", "g\xe9.npy"},
       {"argument 3", "not valid UTF-8", "0xe9"}},
      {"missing config file", "solve", {"--g", "g.npy", "--config", "absent.ini"}, {"absent.ini", "no such file"}},
      // --- SPICE decks ----------------------------------------------------------------------
      {"deck with a capacitor", "solve", {"--deck", "capacitor.cir"}, {"capacitor.cir:3", "c1", "R, V and I"}},
      {"deck with a capacitor (check)", "check", {"--deck", "capacitor.cir"}, {"capacitor.cir:3", "c1"}},
      {"deck with a diode", "solve", {"--deck", "diode.cir"}, {"diode.cir:3", "d1", "R, V and I"}},
      {"deck with a subcircuit", "solve", {"--deck", "subckt.cir"}, {"subckt.cir:2", ".subckt"}},
      {"deck with a transient source", "check", {"--deck", "pulse.cir"}, {"pulse.cir:3", "v1", "pulse", "dc"}},
      {"deck with a negative resistance", "solve", {"--deck", "negative_r.cir"}, {"negative_r.cir:2", "r1", "-1000", "> 0"}},
      {"deck with a zero resistance", "solve", {"--deck", "zero_r.cir"}, {"zero_r.cir:2", "r1", "> 0"}},
      {"deck with a value that is not a number", "solve", {"--deck", "not_a_number.cir"}, {"not_a_number.cir:3", "r2", "2,2k", "not a number"}},
      {"deck with a dangling node", "solve", {"--deck", "dangling.cir"}, {"dangling.cir:3", "dangling node 'b'", "r2"}},
      {"deck with a duplicate name", "check", {"--deck", "duplicate.cir"}, {"duplicate.cir:3", "duplicate", "r1", "line 2"}},
      {"deck without elements", "solve", {"--deck", "empty.cir"}, {"empty.cir:3", "no elements"}},
      {"deck with a node name that is not UTF-8", "check", {"--deck", "latin1.cir"}, {"latin1.cir:4", "not valid UTF-8"}},
      {"missing deck", "solve", {"--deck", "absent.cir"}, {"absent.cir", "no such file"}},
      {"--deck together with --g", "solve", {"--deck", "good.cir", "--g", "g.npy"}, {"deck", "--g"}},
      // --- numerical faults of the data: exit 4, the node or cell named ---------------------
      {"deck with a floating island (singular)", "solve", {"--deck", "floating.cir"}, {"singular", "island_a", "no DC path"}, {4}},
      {"deck with a current-fed island (singular)", "solve", {"--deck", "current_island.cir"}, {"singular", "node 'b'", "no DC path"}, {4}},
      {"deck with a voltage-source loop (singular)", "check", {"--deck", "source_loop.cir"}, {"singular", "v2", "loop of voltage sources"}, {4}},
      {"sinh cell overflow (k V = 2000)", "solve", {"--rows", "4", "--cols", "4", "--cell", "sinh", "--nl-k", "2000", "--v-read", "1"},
       {"cell", "rcell_0_0", "1 V", "non-finite"}, {4}},
      {"solve overflowing double precision (1e308 V)", "check", {"--g", "g_huge.npy", "--v", "v_1e308.npy"},
       {"non-finite value at node", "overflow"}, {4}},
      {"Newton does not converge", "solve",
       {"--rows", "8", "--cols", "8", "--cell", "sinh", "--nl-k", "40", "--v-read", "1", "--max-iterations", "2", "--r-row", "5", "--r-col", "5"},
       {"Newton did not converge", "max-iterations = 2", "at full sources", "node"}, {4}},
      // --- outputs that cannot be written ---------------------------------------------------
      {"output directory below a regular file", "solve", {"--g", "g.npy", "--out", "somefile/sub"},
       {"somefile/sub", "not a directory"}, {2}, true},
      {"check output directory below a regular file", "check", {"--g", "g.npy", "--out", "somefile/sub"},
       {"somefile/sub", "not a directory"}, {2}, true},
      {"netlist output below a regular file", "netlist", {"--g", "g.npy", "--out", "somefile/deck.cir"},
       {"somefile/deck.cir", "not a directory"}, {2}, true},
      {"netlist output onto an existing directory", "netlist", {"--g", "g.npy", "--out", "adir"},
       {"cannot write 'adir'", "is a directory"}, {2}, true},
      {"output directory in /proc (unwritable even for root)", "program", {"--rows", "2", "--cols", "2", "--out", "/proc/xbar_out"},
       {"cannot create output directory '/proc/xbar_out'"}, {2}, true},
      // --- transients and PPA (issue 20) --------------------------------------------------
      {"negative --c-row (transient)", "transient", {"--rows", "4", "--cols", "4", "--c-row", "-1e-15"}, {"c-row", "-1e-15", ">= 0"}},
      {"negative --c-col (netlist)", "netlist", {"--rows", "4", "--cols", "4", "--c-col", "-2e-15"}, {"c-col", "-2e-15", ">= 0"}},
      {"NaN --c-col (ppa)", "ppa", {"--rows", "4", "--cols", "4", "--c-col", "nan"}, {"c-col", "nan", "finite"}},
      {"--t-stop 0", "transient", {"--rows", "4", "--cols", "4", "--t-stop", "0"}, {"t-stop", "0", "> 0"}},
      {"negative --t-stop (netlist deck)", "netlist", {"--rows", "4", "--cols", "4", "--t-stop", "-1e-9"}, {"t-stop", "-1e-09", "> 0"}},
      {"--t-stop 0 (check --transient)", "check", {"--rows", "3", "--cols", "3", "--transient", "--t-stop", "0"}, {"t-stop", "0", "> 0"}},
      {"--time-step larger than --t-stop", "transient", {"--rows", "4", "--cols", "4", "--t-stop", "1e-9", "--time-step", "2e-9"},
       {"time-step", "2e-09", "t-stop"}},
      {"--time-step larger than --t-stop (ppa)", "ppa", {"--rows", "4", "--cols", "4", "--t-stop", "1e-10", "--time-step", "1e-9"},
       {"time-step", "1e-09", "t-stop"}},
      {"--t-rise not below --t-stop", "transient", {"--rows", "4", "--cols", "4", "--t-stop", "1e-9", "--t-rise", "1e-9"},
       {"t-rise", "1e-09", "[0, t-stop"}},
      {"--time-step without --t-stop (netlist)", "netlist", {"--rows", "4", "--cols", "4", "--time-step", "1e-12"},
       {"time-step", "only with --t-stop"}},
      {"--integrator foo", "transient", {"--rows", "4", "--cols", "4", "--integrator", "foo"}, {"integrator", "foo", "trbdf2"}},
      {"--lte-tol 0", "transient", {"--rows", "4", "--cols", "4", "--lte-tol", "0"}, {"lte-tol", "0", "(0, 0.1]"}},
      {"--settle-tol 1", "transient", {"--rows", "4", "--cols", "4", "--settle-tol", "1"}, {"settle-tol", "1", "[0, 1)"}},
      {"fixed steps beyond --max-steps", "transient", {"--rows", "4", "--cols", "4", "--time-step", "1e-15", "--max-steps", "100"},
       {"max-steps = 100", "time-step"}},
      {"transient of a batch of inputs", "transient", {"--g", "g.npy", "--v", "v_batch.npy"}, {"key v", "v_batch.npy", "3 input vectors"}},
      {"transient --backend ngspice", "transient", {"--rows", "4", "--cols", "4", "--backend", "ngspice"}, {"backend", "ngspice", "referee"}},
      {"a transient key on a DC check", "check", {"--rows", "3", "--cols", "3", "--t-stop", "1e-9"}, {"t-stop", "only with --transient"}},
      {"check --transient with --waveform-tol 0", "check", {"--rows", "3", "--cols", "3", "--transient", "--waveform-tol", "0"},
       {"waveform-tol", "0", "> 0"}},
      {"technology file without a key", "ppa", {"--rows", "4", "--cols", "4", "--technology", "tech_missing_key.ini"},
       {"tech_missing_key.ini", "missing key", "tia-power"}},
      {"technology file with a non-numeric value", "ppa", {"--rows", "4", "--cols", "4", "--technology", "tech_not_a_number.ini"},
       {"tech_not_a_number.ini:2", "adc-fom", "'25 fJ'", "number"}},
      {"technology file with an unknown key", "ppa", {"--rows", "4", "--cols", "4", "--technology", "tech_unknown_key.ini"},
       {"tech_unknown_key.ini:14", "unknown key 'adc-bits'"}},
      {"technology file with a negative area", "ppa", {"--rows", "4", "--cols", "4", "--technology", "tech_negative.ini"},
       {"tech_negative.ini:5", "adc-area", "-1", ">= 0"}},
      {"missing technology file", "ppa", {"--rows", "4", "--cols", "4", "--technology", "absent_tech.ini"}, {"absent_tech.ini", "no such file"}},
      {"ppa --columns-per-adc 0", "ppa", {"--rows", "4", "--cols", "4", "--columns-per-adc", "0"}, {"columns-per-adc", "0", ">= 1"}},
      {"ppa --adc-bits 0", "ppa", {"--rows", "4", "--cols", "4", "--adc-bits", "0"}, {"adc-bits", "0", "[1, 24]"}},
      {"ppa tile keys without --model", "ppa", {"--rows", "4", "--cols", "4", "--tile-rows", "32"}, {"tile-rows", "only with --model"}},
      {"ppa --model with --g", "ppa", {"--model", "notamodel.pt", "--g", "g.npy"}, {"--model", "--g"}},
      {"ppa --model: file that is not a model", "ppa", {"--model", "notamodel.pt"}, {"notamodel.pt", "not a model file"}},
      // --- networks (issue 6) -------------------------------------------------------------
      {"dataset directory that does not exist", "train", {"--data-dir", "no_such_dataset", "--epochs", "1"},
       {"no_such_dataset", "does not exist", "dataset-fashion-mnist"}},
      {"evaluate: model file that is not a model", "evaluate", {"--model", "notamodel.pt"},
       {"notamodel.pt", "not a model file written by `xbar train`"}},
      {"evaluate: model file missing", "evaluate", {"--model", "missing_model.pt"},
       {"missing_model.pt", "does not exist"}},
      {"program --model: file that is not a model", "program", {"--model", "notamodel.pt"},
       {"notamodel.pt", "not a model file"}},
      // network tiles of flash cells (issue 18): refused before the model is read
      {"evaluate --cell flash --variation gaussian", "evaluate",
       {"--model", "notamodel.pt", "--cell", "flash", "--variation", "gaussian"}, {"key variation", "program-verify"}},
      {"evaluate --cell flash --read-noise-sigma", "evaluate",
       {"--model", "notamodel.pt", "--cell", "flash", "--read-noise-sigma", "0.01"}, {"read-noise-sigma", "flash"}},
      {"evaluate --cell flash --g-min 0", "evaluate", {"--model", "notamodel.pt", "--cell", "flash", "--g-min", "0"},
       {"g-min", "> 0"}},
      {"evaluate --cell flash --pv-step 0", "evaluate", {"--model", "notamodel.pt", "--cell", "flash", "--pv-step", "0"},
       {"pv-step", "0", "> 0"}},
      {"evaluate --cell flash --retention-time -1", "evaluate",
       {"--model", "notamodel.pt", "--cell", "flash", "--retention-time", "-1"}, {"retention-time", "-1"}},
      {"evaluate --pv-tol for a linear cell", "evaluate", {"--model", "notamodel.pt", "--pv-tol", "0.01"},
       {"pv-tol", "--cell flash"}},
      {"program --model --cell flash --pv-target read-current", "program",
       {"--model", "notamodel.pt", "--cell", "flash", "--pv-target", "read-current"}, {"pv-target", "conductance-equivalent"}},
      {"program --model --cell flash --v-gate-lines", "program",
       {"--model", "notamodel.pt", "--cell", "flash", "--v-gate-lines", "vgate_5.npy"}, {"v-gate-lines", "--v-gate"}},
      // --- issue 17: hostile input, round 2 ----------------------------------------------
      // 1. integer ranges at the int64 limits (b - a overflowed; INT64_MAX..INT64_MAX hung)
      {"sweep: integer range up to INT64_MAX", "sweep", {"--config", "sweep_int64.ini"},
       {"sweep_int64.ini:3", "seed", "more than 100000 values"}},
      // 2. node names ngspice reads differently
      {"deck node name with ',' (check)", "check", {"--deck", "comma_node.cir"}, {"comma_node.cir:3", "x,y", "field separator"}},
      {"deck node name with '{'", "solve", {"--deck", "brace_node.cir"}, {"brace_node.cir:3", "n{1}", "expression"}},
      {"deck node name outside ASCII (check)", "check", {"--deck", "greek_node.cir"}, {"greek_node.cir:3", "outside ASCII"}},
      // 3. stray arguments
      {"a positional word", "solve", {"--g", "g.npy", "extra"}, {"'extra'", "positional"}},
      {"a single-dash key", "solve", {"--g", "g.npy", "-r-row", "3"}, {"'-r-row'", "two dashes", "--r-row"}},
      {"keys after '--'", "solve", {"--g", "g.npy", "--", "--r-row", "7"}, {"'--'", "positional"}},
      {"an abbreviated key", "solve", {"--g", "g.npy", "--r-ro", "7"}, {"--r-ro"}},
      {"a positional word (sweep)", "sweep", {"--config", "sweep_negative_r.ini", "extra"}, {"'extra'", "positional"}},
      // 4. and 5. a directory, a device, an endless line
      {"--config that is a directory", "solve", {"--g", "g.npy", "--config", "adir"}, {"adir", "is a directory"}},
      {"--config /dev/zero", "check", {"--g", "g.npy", "--config", "/dev/zero"}, {"/dev/zero", "device"}},
      {"--deck /dev/zero", "solve", {"--deck", "/dev/zero"}, {"/dev/zero", "device"}},
      {"--deck that is a directory", "check", {"--deck", "adir"}, {"adir", "is a directory"}},
      {"--level-table /dev/zero", "program", {"--rows", "3", "--cols", "3", "--level-table", "/dev/zero"}, {"/dev/zero", "device"}},
      {"--level-table of one endless line", "program", {"--rows", "3", "--cols", "3", "--level-table", "long_line.csv"},
       {"long_line.csv:1", "longer than 64 KiB"}},
      {"sweep INI /dev/zero", "sweep", {"--config", "/dev/zero"}, {"/dev/zero", "device"}},
      // 6. sweep values the subcommand rejects: refused before any point runs, naming the line
      {"sweep: r-row = -1 at one point", "sweep", {"--config", "sweep_negative_r.ini"}, {"sweep_negative_r.ini:4", "point 00001", "r-row", ">= 0"}},
      {"sweep: rows = 0 at one point", "sweep", {"--config", "sweep_zero_rows.ini"}, {"sweep_zero_rows.ini:3", "rows = 0", ">= 1"}},
      {"sweep: a missing g file at one point", "sweep", {"--config", "sweep_missing_g.ini"}, {"sweep_missing_g.ini:2", "absent.npy", "no such file"}},
      {"sweep: a missing model", "sweep", {"--config", "sweep_missing_model.ini"}, {"sweep_missing_model.ini:2", "absent_model.pt", "no such file"}},
      {"sweep: a value listed twice", "sweep", {"--config", "sweep_duplicate.ini"}, {"sweep_duplicate.ini:3", "'1'", "twice"}},
      // 13. a grid beyond the limit
      {"sweep: more than 10^6 points", "sweep", {"--config", "sweep_huge.ini"}, {"sweep_huge.ini", "1000000 points", "1000 x 1000 x 2"}},
      // 7. training that diverges
      {"train that diverges (--lr 1e308)", "train", {"--lr", "1e308", "--epochs", "1", "--train-subset", "64", "--subset", "10"},
       {"diverged", "lr = 1e+308"}, {4}},
      // Several steps: the optimiser's float32 update overflows before the loss turns non-finite.
      {"train that diverges in its optimiser step (--lr 1e308, 8 batches)", "train",
       {"--lr", "1e308", "--epochs", "1", "--train-subset", "1024", "--subset", "10"}, {"diverged", "batch", "lr = 1e+308"}, {4}},
      // 8. sizes that cannot fit
      {"calibrate --heldout 1e11", "calibrate", {"--rows", "8", "--cols", "8", "--heldout", "100000000000"}, {"heldout", "--max-memory"}},
      {"calibrate --calib-inputs near INT64_MAX", "calibrate", {"--rows", "8", "--cols", "8", "--calib-inputs", "9223372036854775000"},
       {"calib-inputs", "--max-memory"}},
      {"program --rows 1e9 --cols 1e9", "program", {"--rows", "1000000000", "--cols", "1000000000"}, {"rows", "--max-memory"}},
      {"solve --save-voltages beyond --max-memory", "solve", {"--g", "g.npy", "--v", "v_batch.npy", "--save-voltages", "--max-memory", "1K"},
       {"save-voltages", "--max-memory = 1 KiB"}},
      {"--max-memory that is not a size", "solve", {"--g", "g.npy", "--max-memory", "lots"}, {"max-memory", "lots", "8G"}},
      // 9. converter ranges that overflow
      {"ADC range -1e308..1e308", "solve", {"--g", "g.npy", "--adc-bits", "8", "--adc-i-min", "-1e308", "--adc-i-max", "1e308"},
       {"adc-i-min", "adc-i-max", "too wide"}},
      {"DAC range -1e308..1e308", "solve", {"--g", "g.npy", "--dac-bits", "8", "--dac-v-min", "-1e308", "--dac-v-max", "1e308"},
       {"dac-v-min", "dac-v-max", "too wide"}},
      // 11. conductances whose resistance overflows or is no cell
      {"subnormal G (netlist)", "netlist", {"--g", "g_subnormal.npy"}, {"g_subnormal.npy", "[0, 1]", "below 1e-30"}},
      {"G = 1e300 (solve)", "solve", {"--g", "g_1e300.npy"}, {"g_1e300.npy", "[2, 2]", "above 1e+12"}},
      {"--g-on 1e300 (program)", "program", {"--rows", "3", "--cols", "3", "--g-on", "1e300"}, {"g-on", "1e+300", "1e+12"}},
      // 12. messages that named the wrong thing or no place
      {"a 1f resistor", "solve", {"--deck", "femto.cir"}, {"femto.cir:4", "r2", "femto"}},
      {"INI with a NUL byte", "solve", {"--g", "g.npy", "--config", "nul.ini"}, {"nul.ini:2", "NUL"}},
      {"INI value out of range, with its line", "solve", {"--g", "g.npy", "--config", "negative_r_row.ini"},
       {"negative_r_row.ini:2", "r-row", "-2.5"}},
      {"sinh cell overflowing (k V = 700)", "solve", {"--rows", "4", "--cols", "4", "--cell", "sinh", "--nl-k", "700", "--v-read", "1"},
       {"cell 'rcell_", "overflows"}, {4}},
      {"1t1r transistor overflowing (kp 1e300)", "check", {"--rows", "4", "--cols", "4", "--cell", "1t1r", "--mos-kp", "1e300"},
       {"transistor 'macc_", "overflows"}, {4}},
      {"evaluate: a directory as model", "evaluate", {"--model", "adir"}, {"adir", "is a directory"}},
      {"evaluate: /dev/null as model", "evaluate", {"--model", "/dev/null"}, {"/dev/null", "not a regular file"}},
      // 14. array keys a deck run would ignore
      {"--deck with --cell", "solve", {"--deck", "good.cir", "--cell", "sinh"}, {"--deck", "--cell", "ignored"}},
      {"--deck with --adc-bits and --dac-bits", "solve", {"--deck", "good.cir", "--adc-bits", "8", "--dac-bits", "4"},
       {"--adc-bits", "--dac-bits", "ignored"}},
      {"--deck with --read-noise-sigma", "solve", {"--deck", "good.cir", "--read-noise-sigma", "0.1"},
       {"--read-noise-sigma"}},
  };
}

// One message, on stderr, saying what and where; nothing on stdout.
void check_message(const Run& r, const BadCase& c) {
  CHECK(r.out.empty());
  CHECK(!r.err.empty());
  CHECK_MESSAGE(std::count(r.err.begin(), r.err.end(), '\n') == 1, "expected one line on stderr:\n" << r.err);
  CHECK_MESSAGE(r.err.rfind("xbar " + c.sub + ": ", 0) == 0, r.err);
  for (const auto& needle : c.needles) CHECK_MESSAGE(contains(r.err, needle), "'" << needle << "' not in: " << r.err);
  CHECK_MESSAGE(std::find(c.exits.begin(), c.exits.end(), r.status) != c.exits.end(),
                "exit status " << r.status << ", stderr: " << r.err);
}

// Bytes and modification time of every file under `p` (a directory or one file).
using FileState = std::map<std::string, std::pair<std::string, fs::file_time_type>>;
FileState file_state(const fs::path& p) {
  FileState state;
  if (fs::is_regular_file(p)) {
    state[p.filename().string()] = {read_all(p), fs::last_write_time(p)};
    return state;
  }
  for (const auto& e : fs::directory_iterator(p))
    state[e.path().filename().string()] = {read_all(e.path()), fs::last_write_time(e.path())};
  return state;
}

// An old, whole-second time stamp: a rewrite, even of identical bytes, moves it.
void age(const fs::path& p) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(24 * 365 * 10));
}

// A table cell: '|' escaped, bytes outside ASCII as \xNN (some rows feed xbar Latin-1).
std::string markdown_cell(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '|') {
      out += "\\|";
    } else if (b >= 0x80) {
      static const char* const kHex = "0123456789abcdef";
      out += std::string("\\x") + kHex[b >> 4] + kHex[b & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("bad input gives a non-zero exit, one message naming the culprit, and no output") {
  Scratch s;
  write_bad_fixtures(s);
  const FileState fixtures_before = file_state(s.work());
  const auto cases = bad_cases();
  CHECK(cases.size() >= 30);  // issue 9: at least 30 cases across the subcommands
  std::string table = "| # | case | command | exit | message |\n|---|---|---|---|---|\n";
  for (size_t k = 0; k < cases.size(); ++k) {
    const BadCase& c = cases[k];
    INFO("case " << k << ": " << c.what << " (xbar " << c.sub << ")");
    std::vector<std::string> args = {c.sub};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.push_back("--quiet");
    std::string shown;
    for (size_t a = 1; a < args.size() - 1; ++a) shown += " " + args[a];

    if (c.own_out) {
      const Run r = run_xbar(s, args);
      check_message(r, c);
      table += "| " + std::to_string(k + 1) + " | " + c.what + " | `xbar " + c.sub + markdown_cell(shown) + "` | " +
               std::to_string(r.status) + " | " + markdown_cell(r.err) + " |\n";
      continue;
    }
    const bool is_netlist = c.sub == "netlist";
    {  // A fresh --out: nothing may be created.
      const std::string fresh = "fresh_" + std::to_string(k) + (is_netlist ? ".cir" : "");
      std::vector<std::string> a = args;
      a.insert(a.end(), {"--out", fresh});
      const Run r = run_xbar(s, a);
      check_message(r, c);
      const fs::path p = s.work() / fresh;
      CHECK_MESSAGE((!fs::exists(p) || (fs::is_directory(p) && fs::is_empty(p))), "output created at " << p);
      table += "| " + std::to_string(k + 1) + " | " + c.what + " | `xbar " + c.sub + markdown_cell(shown) + "` | " +
               std::to_string(r.status) + " | " + markdown_cell(r.err) + " |\n";
    }
    {  // An --out holding a previous run: left byte for byte as it was, time stamps too.
      const std::string prev = "prev_" + std::to_string(k) + (is_netlist ? ".cir" : "");
      const fs::path p = s.work() / prev;
      if (is_netlist) {
        write_text(p, "* previous deck\n");
        age(p);
      } else {
        fs::create_directory(p);
        for (const char* f : kOutputNames) {
          write_text(p / f, std::string("previous ") + f + "\n");
          age(p / f);
        }
      }
      const FileState before = file_state(p);
      std::vector<std::string> a = args;
      a.insert(a.end(), {"--out", prev});
      const Run r = run_xbar(s, a);
      check_message(r, c);
      CHECK_MESSAGE(file_state(p) == before, "previous outputs in " << p << " were changed");
      if (!is_netlist) fs::remove_all(p);
      else fs::remove(p);
    }
  }
  // The fixtures are untouched, and no temporary or stray file was left next to them.
  const FileState fixtures_after = file_state(s.work());
  for (const auto& [name, state] : fixtures_after) {
    INFO(name);
    CHECK(name.find(".tmp.") == std::string::npos);
    CHECK(name.rfind("fresh_", 0) != 0);
    if (fixtures_before.count(name)) CHECK(fixtures_before.at(name) == state);
  }
  CHECK(fs::is_regular_file(s.work() / "adir" / "keep.txt"));
  if (const char* path = std::getenv("XBAR_BAD_INPUT_TABLE")) std::ofstream(path) << table;
}

TEST_CASE("messages about bad numbers show the offending value legibly") {
  // A conductance of -1 nS or a tolerance of -1e-12 must not be printed as "-0.000000".
  Scratch s;
  Matrix g = random_matrix(3, 3, kGLow, kGHigh, 1401);
  g(0, 1) = -1e-9;
  save(s.file("g_tiny_negative.npy"), g);
  save(s.file("g.npy"), random_matrix(3, 3, kGLow, kGHigh, 1402));
  // True if some number in `text` is within 1e-6 relative of `value`.
  auto shows = [](const std::string& text, double value) {
    static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
      const double x = std::strtod(it->str().c_str(), nullptr);
      if (std::abs(x - value) <= 1e-6 * std::abs(value)) return true;
    }
    return false;
  };
  const Run neg = run_xbar(s, {"solve", "--g", "g_tiny_negative.npy", "--quiet", "--out", "o1"});
  CHECK(neg.status == 2);
  CHECK(contains(neg.err, "[0, 1]"));
  CHECK_MESSAGE(shows(neg.err, -1e-9), "value -1e-9 not shown in: " << neg.err);
  const Run tol = run_xbar(s, {"check", "--g", "g.npy", "--tol", "-1e-12", "--quiet", "--out", "o2"});
  CHECK(tol.status == 2);
  CHECK(contains(tol.err, "tol"));
  CHECK_MESSAGE(shows(tol.err, -1e-12), "value -1e-12 not shown in: " << tol.err);
}
