// A sweep definition: the INI file of `xbar sweep`, read into axes and expanded into points.
//
//   const SweepDefinition def = read_sweep_ini("S.ini", key_check);  // InputError: file:line
//   for (int64_t i = 0; i < def.points(); ++i) {
//     const SweepPoint p = def.point(i);   // p.keys: every key of the point, p.seed, p.id
//   }
//
// Grammar: one `key = value` per line; [sections] are ignored and `#` / `;` start comments, as
// in every xbar INI file. A value is a comma-separated list of items:
//   start:step:stop   a range of numbers, stop included when it lies on the grid (to 1e-9 of a
//                     step, so 0.5:0.1:0.8 gives 0.5, 0.6, 0.7, 0.8), each value printed with 15
//                     significant digits (0.1 + 0.2 reads as 0.3)
//   a..b              the integers a, a+1, ..., b
//   "text"            a literal value that may hold commas (sizes = "16,32,64" is one value)
//   text              a literal value, passed to the subcommand as written
// A key with one value is fixed (passed to every point); a key with several is an axis. The grid
// is the Cartesian product of the axes in the order they first appear in the file, the last one
// varying fastest; point i has id = i zero-padded to five digits.
// Keys of the sweep itself (never passed to the subcommand):
//   command = solve|check|calibrate|size   the subcommand of every point (required, one value)
//   sweep-seed = N                         base of the derived point seeds (default 1)
//   sweep-threads = N                      OpenMP/OpenBLAS threads of every point (default 1);
//                                          part of the definition because the thread count
//                                          changes the rounding of CHOLMOD's supernodal
//                                          factorization (OpenBLAS), so a CSV is identical for
//                                          any number of MPI ranks only at a fixed thread count
//   zip = k1, k2, ...                      these list keys vary together: one axis, same length
//   max-increase.METRIC = X | X%           nightly regression check (scripts/nightly.py): a row
//   max-decrease.METRIC = X | X%           is worse when METRIC rose (fell) by more than X, or
//                                          by more than X% of its previous value
// Seeds: a point's `--seed` is the `seed` key when the INI gives one (fixed or swept: the seed is
// then a coordinate of the point); otherwise derive_seed(sweep-seed, FNV-1a of the point's swept
// `key=value` lines in key order), kept below 2^53 so every JSON/CSV reader holds it exactly.
// Either way it depends on the sweep seed and the point only, never on order, rank or host.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xbar::engine::sweep {

// One key of a point, with where its value came from ("S.ini:12"), for error messages.
struct PointKey {
  std::string key, value, where;
};

struct SweepKey {
  std::string key;
  std::vector<std::string> values;
  std::string text;  // the value as written in the file (for messages)
  int line = 0;
};

// One axis of the grid: one list key, or the keys of a zip group (equal lengths).
struct SweepAxis {
  std::vector<size_t> keys;  // indices into SweepDefinition::keys
  int64_t length = 0;
};

// A nightly regression tolerance: `max-increase.METRIC = X` or `max-decrease.METRIC = X%`.
struct SweepTolerance {
  std::string metric;
  std::string direction;  // "increase" (higher is worse) or "decrease" (lower is worse)
  double amount = 0;      // absolute, or percent of the previous value when `relative`
  bool relative = false;
  std::string where;
};

enum class SeedSource { kDerived, kFixed, kSwept };
std::string to_string(SeedSource s);

struct SweepPoint {
  int64_t index = 0;
  std::string id;                  // "00042"
  std::vector<PointKey> keys;      // every subcommand key (fixed + swept + seed), file order
  std::vector<PointKey> swept;     // the axis keys only (without seed), axis order
  uint64_t seed = 0;
};

// Checks a subcommand key: "" when `command` accepts `key`, else what is wrong with it.
using SweepKeyCheck = std::function<std::string(const std::string& command, const std::string& key)>;

class SweepDefinition {
 public:
  std::string path;     // the INI file
  std::string command;  // the subcommand of every point
  uint64_t sweep_seed = 1;
  int threads = 1;  // sweep-threads
  SeedSource seed_source = SeedSource::kDerived;
  std::vector<SweepKey> keys;  // subcommand keys, file order
  std::vector<SweepAxis> axes;
  std::vector<SweepTolerance> tolerances;

  int64_t points() const;
  SweepPoint point(int64_t index) const;
  // Swept keys in axis order, without `seed` (it has its own column): the CSV's key columns.
  std::vector<std::string> swept_keys() const;
  // Everything that determines the points (not the tolerances): what a resumed DIR must match.
  nlohmann::json definition_json() const;
  // Zero-padded id of point `index` ("00042"; wider only past 99999 points).
  std::string id(int64_t index) const;
};

// Parses `in` (named `path` in messages). Throws InputError "path:line: ..." on any bad line,
// key, range, list or zip group; `check` validates the subcommand keys.
SweepDefinition parse_sweep_ini(std::istream& in, const std::string& path, const SweepKeyCheck& check);
SweepDefinition read_sweep_ini(const std::string& path, const SweepKeyCheck& check);

// The values of one list item (a range, an integer range, a quoted or plain literal).
// `where` prefixes messages ("S.ini:4: key r-row = '0.5:0:3': ...").
std::vector<std::string> expand_sweep_value(const std::string& key, const std::string& value,
                                            const std::string& where);

// FNV-1a, 64 bit, of `s` (the point-seed hash; stable across platforms and versions).
uint64_t fnv1a64(const std::string& s);

}  // namespace xbar::engine::sweep
