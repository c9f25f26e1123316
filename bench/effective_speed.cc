// The effective matrix T and the compensation map against the cost of one solve, side by side.
//
//   effective_speed [--sizes 64,256,512,1024] [--r OHM] [--old-max N] [--no-map] [--maps-only]
//                   [--map-max N] [--sparse-rhs-max N] [--repeats K]
//
// Per size (square arrays, random G in [1 uS, 100 uS], seed 42, r-row = r-col = R (default 2.5
// ohm), ideal drivers and virtual grounds), all in one run:
//   base    one factorization + one solve: build, assemble, analyze (geometric nested
//           dissection), factorize with CHOLMOD and solve one input (CrossbarSolver,
//           backend cholmod) -- the unit every ratio is expressed in;
//   new T   calib::effective_matrix by port reduction (solvers/port_reduction.h), whole;
//   old T   the same by min(M, N) solves (EffectiveMethod kSolves), up to --old-max (default
//           1024); max |T_new - T_old| / max |T_old| printed;
//   maps    calib::compensate with --scale auto (one scale) and with per-column scales, whole,
//           up to --map-max (default 1024): time, exact-T iterations, the scale(s) found, and
//           the signal kept per column relative to the one-scale map (mean s_j / s);
//   sparse  (up to --sparse-rhs-max, default 256) the other route of the issue, whole: the
//           ordinary nested-dissection factor, M + N sparse forward solves walking their
//           elimination-tree paths (cholmod_solve2 with Bset) and the M N sparse dot products.
// Times are medians of --repeats runs (default 1). Load: run `uptime` beside it.
#include <cholmod.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "calib/compensation.h"
#include "calib/effective.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/cholmod_backend.h"
#include "solvers/crossbar_solver.h"
#include "solvers/library_threads.h"

using namespace xbar;
using netlists::RowMatrixXd;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::vector<int64_t> parse_sizes(const std::string& s) {
  std::vector<int64_t> out;
  size_t a = 0;
  while (a < s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    out.push_back(std::atoll(s.substr(a, b - a).c_str()));
    a = b + 1;
  }
  return out;
}

// One factorization + one solve, from the spec, as a user's `xbar solve --backend cholmod`.
double base_seconds(const netlists::CrossbarSpec& spec, const RowMatrixXd& g, double* factorize_s) {
  const double t0 = bench::now_s();
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions o;
  o.solver.backend = solvers::BackendChoice::kCholmod;
  solvers::CrossbarSolver s(x, o);
  const RowMatrixXd v = RowMatrixXd::Constant(1, spec.rows, 0.2);
  const RowMatrixXd i = s.solve(v).currents;
  const double secs = bench::now_s() - t0;
  if (i.size() == 0) std::abort();
  *factorize_s = s.summary().factorize_s;
  return secs;
}

// The sparse right-hand-side route on the solver's own factor: T^T = W_x A^-1 (R P) + W_s P =
// (L^-1 P W_x^T)^T (L^-1 P R P) + ..., each unit input's and each column's right-hand side sparse,
// so every forward solve L y = b (cholmod_solve2 with Bset) walks only its elimination-tree path;
// then the M N dot products of the sparse solutions. Timed whole, from the spec (T itself is
// checked against the port reduction elsewhere: 1e-13).
double sparse_rhs_seconds(const netlists::CrossbarSpec& spec, const RowMatrixXd& g) {
  const double t0 = bench::now_s();
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions o;
  o.solver.backend = solvers::BackendChoice::kCholmod;
  solvers::CrossbarSolver s(x, o);
  const solvers::CircuitSolver& cs = s.circuit_solver();
  auto* be = const_cast<solvers::CholmodBackend*>(dynamic_cast<const solvers::CholmodBackend*>(cs.backend()));
  if (!be) std::abort();
  const int64_t m = spec.rows, n = spec.cols, n_src = int64_t(x.source_row.size());
  solvers::SparseMatrix p(n_src, m), pick(n, n_src);
  std::vector<Eigen::Triplet<double, int64_t>> tr;
  for (int64_t k = 0; k < n_src; ++k)
    if (x.source_row[size_t(k)] >= 0) tr.emplace_back(k, x.source_row[size_t(k)], 1.0);
  p.setFromTriplets(tr.begin(), tr.end());
  tr.clear();
  for (int64_t j = 0; j < n; ++j)
    for (int32_t pos : x.sense_sources[size_t(j)])
      if (pos >= 0) tr.emplace_back(j, pos, 1.0);
  pick.setFromTriplets(tr.begin(), tr.end());
  solvers::SparseMatrix rp = cs.mna().rhs_map() * p;  // n x M
  solvers::SparseMatrix wt = solvers::SparseMatrix((pick * cs.mna().current_map_x()).transpose());  // n x N
  rp.makeCompressed();
  wt.makeCompressed();
  Eigen::MatrixXd tt = Eigen::MatrixXd(pick * cs.mna().current_map_s() * p);  // T^T, N x M: D first
  cholmod_common& c = be->common();
  cholmod_factor* f = be->factor();
  // L^-1 alone needs LL': a simplicial LDL' factor (small arrays) is converted, its cost timed.
  if (!f->is_ll && !cholmod_l_change_factor(CHOLMOD_REAL, 1, 0, 1, 1, f, &c)) std::abort();
  const int64_t nu = int64_t(f->n);
  const auto* perm = static_cast<const int64_t*>(f->Perm);
  std::vector<int64_t> iperm(static_cast<size_t>(nu));
  for (int64_t k = 0; k < nu; ++k) iperm[size_t(perm[k])] = k;
  cholmod_dense* b = cholmod_l_zeros(size_t(nu), 1, CHOLMOD_REAL, &c);
  cholmod_dense *xd = nullptr, *y = nullptr, *e = nullptr;
  cholmod_sparse* xset = nullptr;
  std::vector<int64_t> bp(2), bi;
  using Sparse = std::vector<std::pair<int64_t, double>>;
  auto one = [&](const solvers::SparseMatrix& a, int64_t col) {
    Sparse out;
    bi.clear();
    auto* bx = static_cast<double*>(b->x);
    for (solvers::SparseMatrix::InnerIterator it(a, col); it; ++it) {
      bi.push_back(iperm[size_t(it.row())]);
      bx[bi.back()] = it.value();
    }
    if (bi.empty()) return out;
    std::sort(bi.begin(), bi.end());
    bp[0] = 0;
    bp[1] = int64_t(bi.size());
    cholmod_sparse bset{};
    bset.nrow = size_t(nu);
    bset.ncol = 1;
    bset.nzmax = bi.size();
    bset.p = bp.data();
    bset.i = bi.data();
    bset.itype = CHOLMOD_LONG;
    bset.xtype = CHOLMOD_PATTERN;
    bset.dtype = CHOLMOD_DOUBLE;
    bset.sorted = 1;
    bset.packed = 1;
    if (!cholmod_l_solve2(CHOLMOD_L, f, b, &bset, &xd, &xset, &y, &e, &c)) std::abort();
    const auto* xp = static_cast<const int64_t*>(xset->p);
    const auto* xi = static_cast<const int64_t*>(xset->i);
    const auto* xv = static_cast<const double*>(xd->x);
    for (int64_t q = xp[0]; q < xp[1]; ++q) out.emplace_back(xi[q], xv[xi[q]]);
    for (int64_t k : bi) bx[k] = 0;
    return out;
  };
  std::vector<Sparse> yb, zw;
  for (int64_t col = 0; col < rp.cols(); ++col) yb.push_back(one(rp, col));
  for (int64_t col = 0; col < wt.cols(); ++col) zw.push_back(one(wt, col));
  std::vector<double> dense(static_cast<size_t>(nu), 0.0);
  for (int64_t l = 0; l < n; ++l) {
    for (const auto& pr : zw[size_t(l)]) dense[size_t(pr.first)] = pr.second;
    for (int64_t k = 0; k < m; ++k) {
      double acc = 0;
      for (const auto& pr : yb[size_t(k)]) acc += pr.second * dense[size_t(pr.first)];
      tt(l, k) += acc;
    }
    for (const auto& pr : zw[size_t(l)]) dense[size_t(pr.first)] = 0;
  }
  const double secs = bench::now_s() - t0;
  cholmod_l_free_dense(&b, &c);
  cholmod_l_free_dense(&xd, &c);
  cholmod_l_free_dense(&y, &c);
  cholmod_l_free_dense(&e, &c);
  cholmod_l_free_sparse(&xset, &c);
  if (!tt.allFinite()) std::abort();
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  // As xbar does (engine/cli/main.cc): large blocks stay on the heap instead of being mapped
  // and faulted in afresh at every factorization.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // And OpenBLAS's workers stopped, as xbar's main does: factorizations then run on one thread
  // unless OPENBLAS_NUM_THREADS >= 2 asks for threads (solvers/library_threads.h).
  solvers::park_blas_threads();
  std::vector<int64_t> sizes = {64, 256, 512, 1024};
  double r = 2.5;
  int64_t old_max = 1024, map_max = 1024, sparse_max = 256;
  int repeats = 1;
  bool map = true, t_table = true;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    auto next = [&]() -> std::string {
      if (a + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", s.c_str());
        std::exit(2);
      }
      return argv[++a];
    };
    if (s == "--sizes") sizes = parse_sizes(next());
    else if (s == "--r") r = std::atof(next().c_str());
    else if (s == "--old-max") old_max = std::atoll(next().c_str());
    else if (s == "--map-max") map_max = std::atoll(next().c_str());
    else if (s == "--sparse-rhs-max") sparse_max = std::atoll(next().c_str());
    else if (s == "--repeats") repeats = std::max(1, std::atoi(next().c_str()));
    else if (s == "--no-map") map = false;
    else if (s == "--maps-only") t_table = false;
    else {
      std::fprintf(stderr, "unknown argument %s\n", s.c_str());
      return 2;
    }
  }
  std::printf("R = %g ohm per segment, G uniform in [1, 100] uS (seed 42), ideal ends; times: median of %d\n", r,
              repeats);
  struct Row {
    int64_t n;
    double base, fact;
    std::string t_line, map_line;
  };
  std::vector<Row> rows;
  for (int64_t n : sizes) {
    netlists::CrossbarSpec spec;
    spec.rows = spec.cols = n;
    spec.r_row_ohm = spec.r_col_ohm = r;
    spec.r_driver_ohm = spec.r_sense_ohm = 0;
    const RowMatrixXd g = bench::random_matrix(n, n, 1e-6, 1e-4, 42);
    solvers::SolverOptions so;
    so.backend = solvers::BackendChoice::kCholmod;
    std::vector<double> base, fact, tnew;
    RowMatrixXd t_new;
    solvers::SolveSummary parts;
    for (int k = 0; k < repeats; ++k) {
      double f = 0;
      base.push_back(base_seconds(spec, g, &f));
      fact.push_back(f);
      if (!t_table) continue;
      const double t0 = bench::now_s();
      calib::Effective e = calib::effective_matrix(spec, g, so, solvers::EffectiveMethod::kPortReduction);
      tnew.push_back(bench::now_s() - t0);
      t_new = std::move(e.t);
      parts = e.summary;
    }
    Row row{n, median(base), median(fact), "", ""};
    const double b = row.base;
    char buf[512];
    if (t_table) {
      const double tn = median(tnew);
      char old_s[64] = "–", ratio_old[64] = "–", diff[64] = "–", sparse[64] = "–";
      if (n <= old_max) {
        const double t0 = bench::now_s();
        const RowMatrixXd t_old = calib::effective_matrix(spec, g, so, solvers::EffectiveMethod::kSolves).t;
        const double to = bench::now_s() - t0;
        std::snprintf(old_s, sizeof old_s, "%.3g", to);
        std::snprintf(ratio_old, sizeof ratio_old, "%.1f", to / tn);
        std::snprintf(diff, sizeof diff, "%.1e", (t_new - t_old).cwiseAbs().maxCoeff() / t_old.cwiseAbs().maxCoeff());
      }
      if (n <= sparse_max) std::snprintf(sparse, sizeof sparse, "%.3g", sparse_rhs_seconds(spec, g));
      std::snprintf(buf, sizeof buf, "| %lld | %.3g (%.3g) | %.3g (%.2g + %.2g + %.2g) | **%.2f** | %s | %s | %s | %s |",
                    (long long)n, b, row.fact, tn, parts.analyze_s, parts.factorize_s, parts.solve_s, tn / b, old_s,
                    ratio_old, diff, sparse);
      row.t_line = buf;
      std::printf("%s\n", buf);
      std::fflush(stdout);
    }
    if (map && n <= map_max) {
      auto run_map = [&](bool per_column, calib::Compensation& c) {
        calib::CompensationOptions co;
        co.scale_auto = true;
        co.scale_per_column = per_column;
        if (std::getenv("XBAR_BENCH_VERBOSE"))
          co.progress = [](const std::string& s) { std::fprintf(stderr, "  %s\n", s.c_str()); };
        const double t0 = bench::now_s();
        c = calib::compensate(spec, g, co, so);
        return bench::now_s() - t0;
      };
      calib::Compensation cg, cc;
      const double tg = run_map(false, cg), tc = run_map(true, cc);
      double mean = 0;
      for (double sj : cc.column_scales) mean += sj / double(n);
      std::snprintf(buf, sizeof buf,
                    "| %lld | %.3g | %.3g | **%.1f** | %d%s | %.4g | %.3g | %.1f | %d%s | %.4g | %.4g | %.2f |",
                    (long long)n, b, tg, tg / b, cg.iterations, cg.converged ? "" : " (not converged)", cg.scale, tc,
                    tc / b, cc.iterations, cc.converged ? "" : " (not converged)", mean, cc.scale, mean / cg.scale);
      row.map_line = buf;
      std::printf("%s\n", buf);
      std::fflush(stdout);
    }
    rows.push_back(row);
  }
  if (t_table) {
    std::printf("\nEffective matrix T (base: build + assemble + analyze + factorize + one solve, CHOLMOD; new T:\n"
                "port reduction, whole; old T: min(M, N) solves, whole; sparse-RHS: the other route, whole):\n");
    std::printf("| M=N | base s (factorize s) | new T s (analyze + factorize + ports) | new T / base | old T s | old T / new T | max rel diff | sparse-RHS T s |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Row& row : rows) std::printf("%s\n", row.t_line.c_str());
  }
  if (map) {
    std::printf("\nCompensation maps (--scale auto: one scale; per column: one scale per column), whole calls:\n");
    std::printf("| M=N | base s | map s | map / base | iterations | scale | per-column map s | / base | iterations | mean s_j | min s_j | signal kept vs auto |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Row& row : rows)
      if (!row.map_line.empty()) std::printf("%s\n", row.map_line.c_str());
  }
  std::printf("peak RSS %.2f GiB\n", bench::peak_rss_gib());
  return 0;
}
