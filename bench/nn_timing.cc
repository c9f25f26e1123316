// Software vs hardware evaluation time of a trained network on the Fashion-MNIST test set
// (issue 6's timing target: hardware evaluation with exact IR drop <= 5x software).
//
//   bench/nn_timing MODEL.pt [--subset N] [--threads T] [--repeats R] [--tile T] [--r OHM]
//
// Side by side in one process, each the best of R repeats:
//   software   libtorch float32 forward passes (engine::nn::evaluate_software), images in memory;
//   hardware   the same images through DAC, every tile's exact effective matrix T, ADC and the
//              digital steps (engine::nn::HardwareNetwork::predict, linear cells, uncompensated),
//              after programming: "inference";
//   build      programming every tile and computing its T (one factorization + min(M, N)
//              solves per tile, on --threads threads), once per programmed network.
// Hardware configuration: --tile x --tile tiles, --r ohm per segment, 5% Gaussian programming
// variation, 0.5% stuck-on + 0.5% stuck-off, 8-bit ADC calibrated on 1000 training images.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench_util.h"
#include "engine/io/fashion_mnist.h"
#include "engine/nn/hardware_inference.h"
#include "engine/nn/nn_model.h"

using namespace xbar;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nn_timing MODEL.pt [--subset N] [--threads T] [--repeats R] [--tile T] [--r OHM]\n");
    return 2;
  }
  const std::string model = argv[1];
  int64_t subset = 0, tile = 128;
  int threads = 2, repeats = 3;
  double r_ohm = 2.5;
  for (int k = 2; k + 1 < argc; k += 2) {
    const std::string key = argv[k];
    if (key == "--subset") subset = std::stoll(argv[k + 1]);
    else if (key == "--threads") threads = std::stoi(argv[k + 1]);
    else if (key == "--repeats") repeats = std::stoi(argv[k + 1]);
    else if (key == "--tile") tile = std::stoll(argv[k + 1]);
    else if (key == "--r") r_ohm = std::stod(argv[k + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  const engine::io::ImageSet test = engine::io::load_fashion_mnist(engine::io::kDefaultFashionMnistDir, engine::io::Split::kTest, subset);
  const engine::io::ImageSet calib =
      engine::io::load_fashion_mnist(engine::io::kDefaultFashionMnistDir, engine::io::Split::kTrain, 1000, "calib");
  const engine::nn::Network net = engine::nn::load_network(model);

  double sw_best = 1e300, sw_acc = 0;
  std::vector<int> sw_pred;
  for (int r = 0; r < repeats; ++r) {
    const engine::nn::SoftwareEvaluation s = engine::nn::evaluate_software(model, test, threads);
    sw_best = std::min(sw_best, s.seconds);
    sw_acc = s.accuracy;
    sw_pred = s.predictions;
  }

  engine::nn::HardwareOptions o;
  o.mapping.tile_rows = o.mapping.tile_cols = tile;
  o.wires.r_row_ohm = o.wires.r_col_ohm = r_ohm;
  o.programming.variation.model = devices::VariationModel::kGaussian;
  o.programming.variation.relative_sigma = 0.05;
  o.programming.stuck.stuck_on_rate = 0.005;
  o.programming.stuck.stuck_off_rate = 0.005;
  o.adc_bits = 8;
  o.threads = threads;
  const engine::nn::RowMatrixXd calib_x =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          calib.pixels.data(), calib.count, engine::io::kImagePixels)
          .cast<double>();
  auto timed = [&](engine::nn::HardwareMode mode, double& build_s, double& infer_s, double& acc) {
    infer_s = 1e300;
    const double t0 = bench::now_s();
    engine::nn::HardwareNetwork hw(net, o, mode);
    build_s = bench::now_s() - t0;
    hw.calibrate(calib_x);
    for (int r = 0; r < repeats; ++r) {
      const double t1 = bench::now_s();
      const std::vector<int> p = hw.predict(test.pixels, test.count);
      infer_s = std::min(infer_s, bench::now_s() - t1);
      int64_t c = 0;
      for (int64_t i = 0; i < test.count; ++i) c += p[size_t(i)] == test.labels[size_t(i)];
      acc = double(c) / double(test.count);
    }
  };
  double ib = 0, ii = 0, ia = 0, hb = 0, hi = 0, ha = 0;
  timed(engine::nn::HardwareMode::kIdeal, ib, ii, ia);
  timed(engine::nn::HardwareMode::kUncompensated, hb, hi, ha);
  std::printf("%s (%s), %lld test images, %d threads, tiles %lld x %lld, %.1f ohm, best of %d\n", model.c_str(),
              net.arch.c_str(), (long long)test.count, threads, (long long)tile, (long long)tile, r_ohm, repeats);
  std::printf("  software (libtorch float32):      %8.3f s   accuracy %.4f\n", sw_best, sw_acc);
  std::printf("  hardware ideal, inference:        %8.3f s   accuracy %.4f   ratio %.2fx\n", ii, ia, ii / sw_best);
  std::printf("  hardware T, inference:            %8.3f s   accuracy %.4f   ratio %.2fx\n", hi, ha, hi / sw_best);
  std::printf("  hardware T, build (program + T):  %8.3f s   (once per programmed network)\n", hb);
  std::printf("  hardware T, build + inference:    %8.3f s   ratio %.2fx\n", hb + hi, (hb + hi) / sw_best);
  std::printf("  peak RSS %.2f GiB\n", bench::peak_rss_gib());
  return 0;
}
