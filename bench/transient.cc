// Transient benchmarks (issue 20), each ratio measured side by side in one run.
//
//  A. SIZE x SIZE (default 256): one DC solve of the array (CHOLMOD: assembly + analysis +
//     factorization + solve; and `xbar solve`'s default, backend auto, PCG from the spec at this
//     size) against its transient to settling (adaptive TR-BDF2 at the default lte-tol 1e-5,
//     t-stop 10 ns, ending at its steady state), with the shifted systems solved by PCG (auto)
//     and by CHOLMOD (one factorization per step size); medians of R runs.
//  B. NG_SIZE x NG_SIZE (default 64): native transient against ngspice `.tran` on the same deck,
//     each one's accuracy measured against a reference (native, lte-tol 1e-8, which agrees with
//     the exact solution and with ngspice at tight tolerances on the test arrays): the largest
//     difference over every column and every time point of the run, as a fraction of full
//     scale, the reference interpolated quadratically between its own points. Pairs of runs
//     (trapezoidal ngspice, trtol 1, its own step control up to TMAX = t-stop / 50): native
//     lte-tol 1e-4 / ngspice reltol 1e-5, native 1e-5 / ngspice 1e-6 by default.
//
// Array: random G in [1 uS, 100 uS] (seed 42), 2.5 ohm per segment, 1 fF per row and column
// node, ideal drivers and virtual grounds (r-driver = r-sense = 0; --r-end R for R ohm each),
// every row stepped to 0.2 V.
//
// Usage: transient [SIZE] [NG_SIZE] [--repeats R] [--r-end OHM] [--skip-ngspice] [--skip-dc]
//                  [--native-lte A,B,...] [--ngspice-reltol X,Y,...] [--ngspice-tmax FRACTION]
// (the k-th native tolerance runs against the k-th ngspice reltol; TMAX = FRACTION * t-stop,
// default 1/50, ngspice's own largest default)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"
#include "solvers/transient_referee.h"

using namespace xbar;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

netlists::CrossbarSpec spec_of(int64_t n, double r_end) {
  netlists::CrossbarSpec s;
  s.rows = s.cols = n;
  s.r_row_ohm = s.r_col_ohm = 2.5;
  s.r_driver_ohm = s.r_sense_ohm = r_end;
  s.c_row_f = s.c_col_f = 1e-15;
  return s;
}

// The reference's waveform of column j at time t: quadratic (Lagrange) through the three
// reference points around t.
double reference_at(const solvers::TransientRun& ref, int64_t j, double t) {
  const Eigen::VectorXd& ts = ref.times_s;
  const Eigen::Index n = ts.size();
  Eigen::Index k = std::lower_bound(ts.data(), ts.data() + n, t) - ts.data();
  k = std::clamp<Eigen::Index>(k - 1, 0, std::max<Eigen::Index>(0, n - 3));
  double y = 0;
  for (int a = 0; a < 3 && k + a < n; ++a) {
    double w = 1;
    for (int b = 0; b < 3 && k + b < n; ++b)
      if (b != a) w *= (t - ts(k + b)) / (ts(k + a) - ts(k + b));
    y += w * ref.outputs(k + a, j);
  }
  return y;
}

// Largest |run - reference| over the run's time points after `from` and every column, / fs.
double error_vs(const solvers::TransientRun& ref, const Eigen::VectorXd& t, const netlists::RowMatrixXd& y,
                double from, double fs) {
  double worst = 0;
  for (Eigen::Index k = 0; k < t.size(); ++k) {
    if (t(k) <= from) continue;
    for (Eigen::Index j = 0; j < y.cols(); ++j)
      worst = std::max(worst, std::abs(y(k, j) - reference_at(ref, j, t(k))));
  }
  return worst / fs;
}

void part_a(int64_t n, double r_end, int repeats) {
  const auto spec = spec_of(n, r_end);
  const auto g = bench::random_matrix(n, n, 1e-6, 1e-4, 42);
  const auto cell = devices::make_cell_model("linear");
  const auto x = netlists::build_crossbar(spec, g, cell);
  const Eigen::VectorXd v = Eigen::VectorXd::Constant(n, 0.2);
  std::printf("A. %lld x %lld: one DC solve against the transient to settling (median of %d)\n\n",
              (long long)n, (long long)n, repeats);
  std::vector<double> dc_chol, dc_auto, tr_pcg, tr_chol;
  solvers::CrossbarTransient last_pcg, last_chol;
  for (int r = 0; r < repeats; ++r) {
    solvers::CrossbarSolveOptions so;
    so.solver.backend = solvers::BackendChoice::kCholmod;
    double t0 = bench::now_s();
    solvers::CrossbarSolver chol(x, so);
    const auto i_chol = chol.solve(v.transpose());
    dc_chol.push_back(bench::now_s() - t0);
    so.solver.backend = solvers::BackendChoice::kAuto;
    t0 = bench::now_s();
    solvers::CrossbarSolver automatic(spec, g, cell, so);
    const auto i_auto = automatic.solve(v.transpose());
    dc_auto.push_back(bench::now_s() - t0);
    solvers::CrossbarTransientOptions o;
    t0 = bench::now_s();
    last_pcg = solvers::crossbar_transient(x, v, o);
    tr_pcg.push_back(bench::now_s() - t0);
    o.transient.backend = solvers::BackendChoice::kCholmod;
    t0 = bench::now_s();
    last_chol = solvers::crossbar_transient(x, v, o);
    tr_chol.push_back(bench::now_s() - t0);
    if (r == 0)
      std::printf("DC backends: %s, %s; transient final vs CHOLMOD DC: %.1e (pcg) %.1e (cholmod) of full scale\n\n",
                  chol.summary().backend_used.c_str(), automatic.summary().backend_used.c_str(),
                  (last_pcg.run.outputs_dc.transpose() - i_chol.currents.row(0)).cwiseAbs().maxCoeff() /
                      last_pcg.run.output_scale,
                  (last_chol.run.outputs_dc.transpose() - i_chol.currents.row(0)).cwiseAbs().maxCoeff() /
                      last_chol.run.output_scale);
  }
  const double chol_dc = median(dc_chol), auto_dc = median(dc_auto);
  std::printf("%-34s %9s %12s %12s\n", "run", "wall s", "/ DC cholmod", "/ DC auto");
  std::printf("%-34s %9.3f %12.2f %12.2f\n", "DC solve, cholmod", chol_dc, 1.0, chol_dc / auto_dc);
  std::printf("%-34s %9.3f %12.2f %12.2f\n", "DC solve, auto (pcg from spec)", auto_dc, auto_dc / chol_dc, 1.0);
  std::printf("%-34s %9.3f %12.2f %12.2f\n", "transient, pcg (auto)", median(tr_pcg), median(tr_pcg) / chol_dc,
              median(tr_pcg) / auto_dc);
  std::printf("%-34s %9.3f %12.2f %12.2f\n", "transient, cholmod", median(tr_chol), median(tr_chol) / chol_dc,
              median(tr_chol) / auto_dc);
  for (const auto* t : {&last_pcg, &last_chol}) {
    const auto& r = t->run;
    std::printf("\n  %s\n  steps %lld, factorizations %lld, solves %lld, phases: assembly %.3f s, analysis %.3f s, "
                "factorizations %.3f s, solves %.3f s; settled (0.5 LSB of 8 bits) by %.3g s, steady from %.3g s, "
                "energy %.4g J (static power %.4g W)\n",
                r.message.c_str(), (long long)r.steps, (long long)r.factorizations, (long long)r.solves,
                r.assemble_s, r.analyze_s, r.factorize_s, r.solve_s, t->max_settling_s, r.steady_from_s, r.energy_j,
                r.static_power_w);
  }
  std::printf("\npeak RSS %.2f GiB\n\n", bench::peak_rss_gib());
  std::fflush(stdout);
}

void part_b(int64_t n, double r_end, const std::vector<double>& reltols, const std::vector<double>& native_tols,
            double tmax_fraction) {
  const auto spec = spec_of(n, r_end);
  const auto g = bench::random_matrix(n, n, 1e-6, 1e-4, 42);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  const Eigen::VectorXd v = Eigen::VectorXd::Constant(n, 0.2);
  std::printf("B. %lld x %lld: native transient vs ngspice .tran, errors against a reference\n\n",
              (long long)n, (long long)n);
  // t-stop: twice the settling time of a first run (ngspice integrates every step to t-stop).
  solvers::CrossbarTransientOptions o;
  const auto probe = solvers::crossbar_transient(x, v, o);
  o.transient.t_stop_s = 2 * probe.max_settling_s;
  o.transient.lte_tol = 1e-8;
  double t0 = bench::now_s();
  const auto ref = solvers::crossbar_transient(x, v, o);
  const double ref_s = bench::now_s() - t0;
  const double fs = ref.full_scale_a;
  std::printf("t-stop %.3g s (settling %.3g s); reference: %s, %.3f s\n\n", o.transient.t_stop_s,
              probe.max_settling_s, ref.run.message.c_str(), ref_s);
  std::printf("%-12s %-36s %9s %8s %10s %10s %8s %10s\n", "engine", "setting", "wall s", "points",
              "error/FS", "settle dt", "energy", "ratio");
  for (size_t k = 0; k < std::max(reltols.size(), native_tols.size()); ++k) {
    o.transient.lte_tol = native_tols[std::min(k, native_tols.size() - 1)];
    solvers::TransientRefereeOptions r;
    // ngspice chooses its own steps (its LTE control), up to TMAX = t-stop / 50, its default
    // upper limit, so that its accuracy is bought by its tolerances as the native one's is.
    r.t_max_s = tmax_fraction * o.transient.t_stop_s;
    char opts[200];
    const double reltol = reltols[std::min(k, reltols.size() - 1)];
    std::snprintf(opts, sizeof opts, "method=trap reltol=%g abstol=1e-16 vntol=1e-10 chgtol=1e-24 trtol=1", reltol);
    r.ngspice_options = opts;
    const auto c = solvers::compare_transient(x, v, o, r);
    const double e_nat = error_vs(ref.run, c.native.run.times_s, c.native.run.outputs, 0, fs);
    const double e_ng = error_vs(ref.run, c.ngspice.times_s, c.ngspice_columns, c.deck_rise_s, fs);
    double settle_nat = 0, settle_ng = 0;
    for (int64_t j = 0; j < n; ++j) {
      settle_nat = std::max(settle_nat, std::abs(c.native.settling_s(j) - ref.settling_s(j)));
      settle_ng = std::max(settle_ng, std::abs(c.ngspice_settling_s(j) - ref.settling_s(j)));
    }
    char nat_set[64];
    std::snprintf(nat_set, sizeof nat_set, "trbdf2 adaptive lte-tol %g (%s)", o.transient.lte_tol,
                  c.native.run.backend.c_str());
    std::printf("%-12s %-36s %9.4f %8lld %10.2e %10.2e %8.1e %10s\n", "native", nat_set, c.native_s,
                (long long)c.native.run.times_s.size(), e_nat, settle_nat,
                std::abs(c.native.run.energy_j - ref.run.energy_j) / ref.run.energy_j, "");
    char ng_set[64];
    std::snprintf(ng_set, sizeof ng_set, "trap reltol %g trtol 1", reltol);
    std::printf("%-12s %-36s %9.3f %8lld %10.2e %10.2e %8.1e %9.0fx\n", "ngspice", ng_set, c.ngspice_s,
                (long long)c.ngspice.times_s.size(), e_ng, settle_ng,
                std::abs(c.ngspice_energy_j - ref.run.energy_j) / ref.run.energy_j, c.ngspice_s / c.native_s);
    std::printf("%-12s native vs ngspice: waveforms %.2e of FS, settling %.2f steps, energy %.1e\n\n", "", c.max_waveform_diff,
                c.max_settling_diff_steps, c.energy_rel_diff);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int64_t size = 256, ng_size = 64;
  int repeats = 3;
  double r_end = 0;
  bool skip_ng = false, skip_dc = false;
  std::vector<double> reltols = {1e-5, 1e-6}, native_tols = {1e-4, 1e-5};
  double tmax_fraction = 1.0 / 50;
  int positional = 0;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "--repeats" && k + 1 < argc) repeats = std::max(1, std::atoi(argv[++k]));
    else if (a == "--r-end" && k + 1 < argc) r_end = std::atof(argv[++k]);
    else if (a == "--skip-ngspice") skip_ng = true;
    else if (a == "--skip-dc") skip_dc = true;
    else if (a == "--ngspice-reltol" && k + 1 < argc) {
      reltols.clear();
      for (char* tok = std::strtok(argv[++k], ","); tok; tok = std::strtok(nullptr, ",")) reltols.push_back(std::atof(tok));
    } else if (a == "--native-lte" && k + 1 < argc) {
      native_tols.clear();
      for (char* tok = std::strtok(argv[++k], ","); tok; tok = std::strtok(nullptr, ",")) native_tols.push_back(std::atof(tok));
    } else if (a == "--ngspice-tmax" && k + 1 < argc) {
      tmax_fraction = std::atof(argv[++k]);
    } else if (positional == 0) {
      size = std::atoll(argv[k]);
      ++positional;
    } else {
      ng_size = std::atoll(argv[k]);
      ++positional;
    }
  }
  std::printf("transient benchmarks: random G in [1 uS, 100 uS] (seed 42), 2.5 ohm/segment, 1 fF per node,\n"
              "r-driver = r-sense = %g ohm, every row stepped to 0.2 V\n\n", r_end);
  if (!skip_dc) part_a(size, r_end, repeats);
  if (!skip_ng) part_b(ng_size, r_end, reltols, native_tols, tmax_fraction);
  return 0;
}
