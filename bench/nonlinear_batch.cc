// Nonlinear tiles at network scale (issue 21, point 6): one 128 x 128 tile of nonlinear cells,
// Fashion-MNIST test images as its inputs, solved one Newton solve per image (the referee,
// NewtonOptions::batch = false) and batched through one Jacobian (solvers/batched_newton.h),
// side by side in one run. Prints images per second of each, their ratio, the chord steps and
// per-input fallbacks, and the largest node-voltage difference in units of the Newton
// tolerance (reltol |v| + vntol, as tests/solvers/batched_newton_test.cc measures it).
//
// Usage: nonlinear_batch [CELL [IMAGES [REFEREE_IMAGES [SIZE [BACKEND]]]]]
//   CELL sinh (default, k = 3/V), selector, 1t1r or flash; IMAGES batched (default 200);
//   REFEREE_IMAGES solved one by one (default 20: the first of the same images); SIZE (128);
//   BACKEND of the Jacobians (default native: Eigen's LDL' up to 128^2, solvers/eigen_backend.h;
//   cholmod to compare).
// The tile: G uniform in [1 uS, 100 uS] (flash: V_th in [0.2, 0.9] V, gates at 1.8 V),
// 2.5 ohm per segment on rows and columns, driven left, sensed at the bottom. Inputs: pixels
// 300 .. 300 + SIZE of each image (the middle rows, where the garments are), times v-read
// 0.2 V, the DAC input of evaluate's first layer. Both paths go through CircuitSolver (what
// `xbar evaluate` calls per tile and batch), assembly and analysis included; single-threaded
// (OMP_NUM_THREADS=1, as evaluate runs each batch).
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <string>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "engine/io/fashion_mnist.h"
#include "solvers/crossbar_solver.h"
#include "solvers/library_threads.h"

using namespace xbar;

namespace {
constexpr double kVReadV = 0.2;
constexpr int64_t kFirstPixel = 300;
}  // namespace

int main(int argc, char** argv) {
  // As the CLI (engine/cli/main.cc): large blocks reused from the heap, not mapped afresh.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // One thread, as evaluate runs each batch (for_each_batch): OpenBLAS's workers stopped (else
  // they spin in sched_yield beside CHOLMOD's substitutions) and OpenMP serial.
  solvers::park_blas_threads();
  omp_set_num_threads(1);
  const std::string cell = argc > 1 ? argv[1] : "sinh";
  const int64_t images = argc > 2 ? std::atoll(argv[2]) : 200;
  const int64_t referee = std::min<int64_t>(images, argc > 3 ? std::atoll(argv[3]) : 20);
  const int64_t size = argc > 4 ? std::atoll(argv[4]) : 128;
  const solvers::BackendChoice backend = solvers::parse_backend(argc > 5 ? argv[5] : "native");
  const auto set = engine::io::load_fashion_mnist(engine::io::kDefaultFashionMnistDir, engine::io::Split::kTest, images);
  netlists::RowMatrixXd v(images, size);
  for (int64_t k = 0; k < images; ++k)
    for (int64_t i = 0; i < size; ++i)
      v(k, i) = kVReadV * set.pixels[size_t(k * engine::io::kImagePixels + (kFirstPixel + i) % engine::io::kImagePixels)];
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = size;
  spec.r_row_ohm = spec.r_col_ohm = 2.5;
  devices::CellParams p;
  p.nl_k_per_v = 3;
  const bool flash = cell == "flash";
  const auto values = flash ? bench::random_matrix(size, size, 0.2, 0.9, 42) : bench::random_matrix(size, size, 1e-6, 1e-4, 42);
  const auto x = netlists::build_crossbar(spec, values, devices::make_cell_model(cell, p));

  auto run = [&](int64_t count, bool batch, solvers::CrossbarSolution& out) {
    solvers::CrossbarSolveOptions opt;
    opt.solver.backend = backend;
    opt.solver.newton.batch = batch;
    opt.batch = solvers::BatchMethod::kDirect;
    opt.keep_voltages = true;
    const double t0 = bench::now_s();
    const std::clock_t c0 = std::clock();
    solvers::CrossbarSolver s(x, opt);
    out = s.solve(v.topRows(count));
    return std::pair<double, double>(bench::now_s() - t0, double(std::clock() - c0) / CLOCKS_PER_SEC);
  };
  std::printf("nonlinear tile: %s, %lld x %lld, 2.5 ohm/segment, Fashion-MNIST test images x %.1f V\n",
              cell.c_str(), (long long)size, (long long)size, kVReadV);
  solvers::CrossbarSolution one, many;
  const auto [t_one, cpu_one] = run(referee, false, one);
  const auto [t_many, cpu_many] = run(images, true, many);
  const solvers::NewtonOptions n;
  const auto ref = many.voltages.topRows(referee);
  const double tol = n.reltol * one.voltages.cwiseAbs().maxCoeff() + n.vntol_v;
  const double diff = (ref - one.voltages).cwiseAbs().maxCoeff();
  const double ips_one = double(referee) / t_one, ips_many = double(images) / t_many;
  std::printf("%-22s %8s %10s %12s %12s %14s\n", "path", "images", "seconds", "cpu seconds", "images/s",
              "newton iters");
  std::printf("%-22s %8lld %10.3f %12.3f %12.1f %14lld\n", "per-image Newton", (long long)referee, t_one, cpu_one,
              ips_one, (long long)one.summary.newton_iterations);
  std::printf("%-22s %8lld %10.3f %12.3f %12.1f %14lld\n", "batched (one Jacobian)", (long long)images, t_many,
              cpu_many, ips_many, (long long)many.summary.newton_iterations);
  std::printf("ratio batched / per-image: %.1fx images/s (%.1fx in cpu time per image); chord steps %.2f per image, per-image fallbacks %lld, "
              "assembly %.3f s, analysis %.3f s, factorizations %.3f s of %.3f s\n",
              ips_many / ips_one, (cpu_one / double(referee)) / (cpu_many / double(images)), double(many.summary.newton_chord_steps) / double(images),
              (long long)many.summary.newton_fallbacks, many.summary.assemble_s, many.summary.analyze_s,
              many.summary.factorize_s, t_many);
  std::printf("largest node-voltage difference on the %lld shared images: %.2e V = %.3f Newton tolerances\n",
              (long long)referee, diff, diff / tol);
  return 0;
}
