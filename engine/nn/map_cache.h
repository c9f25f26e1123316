// A directory of finished compensation maps [key map-cache]: evaluations of the same tiles
// under other read-time settings (ADC bits, read noise, programming variation and its seed,
// stuck cells, drift, the thresholds of a sweep) reuse a tile's map instead of rebuilding it,
// and so do `xbar program` and `xbar evaluate` of the same network (issue 21, point 4).
//
//   MapCache cache(dir);                        // creates dir; InputError naming key map-cache
//   const std::string key = MapCache::key(spec, g_target, options, solver);
//   if (std::optional<calib::Compensation> c = cache.load(key)) ... // a hit: the stored map
//   else { calib::Compensation c = calib::compensate(...); cache.store(key, c); }
//
// The key is everything a linear map is a function of: xbar's version (a build of another
// commit may compute another map; builds with uncommitted changes, "+<commit>-dirty", share
// their commit's entries, so whoever changes the map's code uses a fresh directory), the array's size, wire segments, driver and sense
// resistances and sides, the device window, every compensation option (tolerance, iteration
// cap, Anderson depth, scale or scale mode, scale and floor groups, per-column fallback, the
// effective-matrix method), the solver back end and ordering, and the target conductances
// bit for bit. Not in it, because the map does not depend on them: the programming draws and
// their seed, read noise, the ADC and DAC, wire capacitances. The map draws no random numbers.
//
// An entry is one file, <dir>/<16 hex digits>.xbarmap (the digits: a 64-bit FNV-1a hash of the
// key), written atomically (engine/io/atomic_file.h), holding the whole key and the map. A
// load compares the stored key with the asked one byte for byte, so a hash collision, an
// entry of another version or of other options is a miss, never another array's map; a file
// that is not a complete entry (wrong magic, lengths or checksum) or holds values no map has
// (a cell outside the window, a gain outside (0, 1], counts beyond the array) is a miss with a
// warning, and the map computed instead replaces it. Reading costs at most the entry's own
// size, bounded by the asked array's: a hostile file never allocates more. Entries are never removed by xbar: delete the
// directory to reclaim its space (about 9 bytes per cell per map).
//
// A hit returns what compensate() returned for the map except its T(G') and target (t and
// target_s are empty: the tiles program g_s and measure their own T after programming), with
// `seconds` the time of the load. Linear cells only: nonlinear and flash maps depend on the
// cell model and the solver's Newton settings and are always computed.
//
// Thread-safe: tiles built in parallel load and store their own entries; two processes
// storing the same entry each rename a complete file into place.
#pragma once

#include <optional>
#include <string>

#include "calib/compensation.h"
#include "netlists/crossbar_spec.h"
#include "solvers/circuit_solver.h"

namespace xbar::engine::nn {

class MapCache {
 public:
  // Creates `dir` (and its parents) if missing; InputError naming key map-cache if it cannot,
  // or if `dir` is not a writable directory.
  explicit MapCache(std::string dir);

  static std::string key(const netlists::CrossbarSpec& spec, const netlists::RowMatrixXd& g_target_s,
                         const calib::CompensationOptions& options, const solvers::SolverOptions& solver);

  // The stored map for `key`, or nothing (no entry, another key under the same name, or a
  // damaged file: then `warning` says which file and why).
  std::optional<calib::Compensation> load(const std::string& key, std::string* warning = nullptr) const;
  // Stores `c` under `key` (replacing any entry of that name). InputError naming the file if
  // it cannot be written (a full disk); the tiles then warn and go on with the map.
  void store(const std::string& key, const calib::Compensation& c) const;

  // compensate(spec, g_target_s, options, solver)'s map: loaded when stored (*loaded = true;
  // its iterations are then 0, no exact T spent, and its message says how it was built), else
  // computed and stored. Warnings (a damaged entry; a store that failed, the map used all the
  // same) go to stderr, one line each.
  calib::Compensation compensate(const netlists::CrossbarSpec& spec, const netlists::RowMatrixXd& g_target_s,
                                 const calib::CompensationOptions& options, const solvers::SolverOptions& solver,
                                 bool* loaded) const;

  const std::string& dir() const { return dir_; }
  std::string path_of(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace xbar::engine::nn
