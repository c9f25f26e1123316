// IR-drop compensation: error before vs after on held-out inputs, iterations and time.
//
//   compensation [SIZE...] [--r R] [--g-min G] [--only-auto]   default sizes 64 128 256 512, R = 1 and 2.5 ohm
//                                                per segment, g-min 1e-6 S
//
// Random targets in [1 uS, 100 uS] (seed 42), device window [g-min, 100 uS], ideal drivers and
// virtual grounds (r-driver = r-sense = 0), 1000 held-out inputs uniform in [0, 0.2] V per row
// (their own seed, never used by the map). Error = max |I - (sG)^T v| over inputs and columns,
// in LSB of an 8-bit ADC whose full scale is the largest ideal column current with every row
// at 0.2 V. Printed for scale 1 (cells beyond g-max stay at g-max, counted) and --scale auto.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "calib/compensation.h"
#include "calib/error_metrics.h"
#include "support/random_array.h"

using namespace xbar;
using calib::RowMatrixXd;

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  std::vector<double> rs = {1.0, 2.5};
  double g_min = 1e-6;
  std::vector<bool> modes = {false, true};  // scale 1, then --scale auto
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    if (s == "--r" && a + 1 < argc) rs = {std::atof(argv[++a])};
    else if (s == "--only-auto") modes = {true};
    else if (s == "--g-min" && a + 1 < argc) g_min = std::atof(argv[++a]);
    else sizes.push_back(std::atoll(argv[a]));
  }
  if (sizes.empty()) sizes = {64, 128, 256, 512};
  std::printf("device window [%g, 1e-4] S\n", g_min);
  std::printf("| M=N | R ohm | scale | uncomp max LSB | comp max LSB | comp RMS LSB | comp max LSB, fully reachable columns | unreachable (above+below) | iterations | map s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (double r : rs)
    for (int64_t n : sizes) {
      netlists::CrossbarSpec spec;
      spec.rows = spec.cols = n;
      spec.r_row_ohm = spec.r_col_ohm = r;
      spec.r_driver_ohm = spec.r_sense_ohm = 0;
      const RowMatrixXd g = support::uniform_matrix(n, n, 1e-6, 1e-4, 42);
      const RowMatrixXd v = calib::heldout_inputs(1000, n, 0.2, calib::InputDistribution::kUniform, 7);
      solvers::SolverOptions so;
      const calib::Effective before = calib::effective_matrix(spec, g, so);
      for (bool autoscale : modes) {
        calib::CompensationOptions o;
        o.scale_auto = autoscale;
        o.range.g_min_s = g_min;
        if (std::getenv("XBAR_BENCH_VERBOSE")) o.progress = [](const std::string& s) { std::fprintf(stderr, "  %s\n", s.c_str()); };
        const auto t0 = std::chrono::steady_clock::now();
        const calib::Compensation c = calib::compensate(spec, g, o, so);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const RowMatrixXd gs = c.scale * g;
        const calib::ReadoutSpec adc{8, calib::full_scale_a(gs, 0.2)};
        // Uncompensated at this scale: the scaled target programmed as is.
        const RowMatrixXd t0m = autoscale ? calib::effective_matrix(spec, gs, so).t : before.t;
        const calib::ErrorStats e0 = calib::error_stats(v * t0m, v * gs, adc);
        const calib::ErrorStats ea = calib::error_stats(v * c.t, v * gs, adc);
        // The same error over the columns whose every cell is reachable (the target there is
        // met by the map; elsewhere an unreachable cell's shortfall shows in its column).
        const RowMatrixXd diff = v * c.t - v * gs;
        double reach_max = -1;
        int64_t reach_cols = 0;
        for (int64_t j = 0; j < n; ++j)
          if ((c.status.col(j).array() == 0).all()) {
            ++reach_cols;
            reach_max = std::max(reach_max, diff.col(j).cwiseAbs().maxCoeff() / adc.lsb_a());
          }
        char reach[64];
        if (reach_cols) std::snprintf(reach, sizeof reach, "%.3g (%lld cols)", reach_max, (long long)reach_cols);
        else std::snprintf(reach, sizeof reach, "– (0 cols)");
        std::printf("| %lld | %.1f | %s%.4g | %.2f | %.3g | %.3g | %s | %lld+%lld | %d | %.1f |\n", (long long)n, r,
                    autoscale ? "auto " : "", c.scale, e0.max_lsb, ea.max_lsb, ea.rms_lsb, reach,
                    (long long)c.needs_above_max, (long long)c.needs_below_min, c.iterations, secs);
        std::fflush(stdout);
      }
    }
}
