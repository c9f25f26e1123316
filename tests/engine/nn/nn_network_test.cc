// The network's digital steps against loops written out here: a convolution lowered to crossbar
// products by im2col equals the direct convolution, max pooling and the layer shapes.
#include <doctest/doctest.h>

#include "support/input_error.h"
#include "support/random_array.h"
#include "engine/nn/nn_network.h"

using xbar::engine::nn::Layer;
using xbar::engine::nn::LayerKind;
using xbar::engine::nn::Network;
using xbar::engine::nn::RowMatrixXd;

namespace {

// Rounding of the two summation orders (products of numbers in [-1, 1], at most 18 terms).
constexpr double kRoundingTol = 1e-12;

Layer conv(int64_t in_c, int64_t out_c, int64_t k, int64_t pad, uint64_t seed) {
  Layer l;
  l.kind = LayerKind::kConv;
  l.name = "conv";
  l.kernel = k;
  l.padding = pad;
  l.w = xbar::support::uniform_matrix(in_c * k * k, out_c, -1, 1, seed);
  l.b = xbar::support::uniform_matrix(out_c, 1, -1, 1, seed + 1).col(0);
  return l;
}

}  // namespace

TEST_CASE("a convolution lowered by im2col equals the direct convolution, padding included") {
  Network n;
  n.input_c = 2;
  n.input_h = 5;
  n.input_w = 6;
  n.layers = {conv(2, 3, 3, 1, 7)};
  n.infer_shapes();
  const Layer& l = n.layers[0];
  REQUIRE(l.out_h == 5);
  REQUIRE(l.out_w == 6);
  const RowMatrixXd x = xbar::support::uniform_matrix(4, 2 * 5 * 6, 0, 1, 3);
  const RowMatrixXd y = xbar::engine::nn::forward(n, x, [&](size_t k, RowMatrixXd& in) {
    return RowMatrixXd(in * n.layers[k].w);
  });
  REQUIRE(y.rows() == 4);
  REQUIRE(y.cols() == 3 * 5 * 6);
  // Direct: out[o, y, x] = b[o] + sum_{c, ky, kx} w[(c k + ky) k + kx, o] in[c, y + ky - 1, x + kx - 1].
  double worst = 0;
  for (int b = 0; b < 4; ++b)
    for (int o = 0; o < 3; ++o)
      for (int oy = 0; oy < 5; ++oy)
        for (int ox = 0; ox < 6; ++ox) {
          double s = l.b(o);
          for (int c = 0; c < 2; ++c)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx) {
                const int iy = oy + ky - 1, ix = ox + kx - 1;
                if (iy < 0 || iy >= 5 || ix < 0 || ix >= 6) continue;
                s += l.w((c * 3 + ky) * 3 + kx, o) * x(b, (c * 5 + iy) * 6 + ix);
              }
          worst = std::max(worst, std::abs(s - y(b, (o * 5 + oy) * 6 + ox)));
        }
  CHECK(worst <= kRoundingTol);
}

TEST_CASE("max pooling, ReLU and flatten act in PyTorch's (C, H, W) order") {
  Network n;
  n.input_c = 2;
  n.input_h = 4;
  n.input_w = 4;
  Layer relu, pool, flat;
  relu.kind = LayerKind::kRelu;
  pool.kind = LayerKind::kMaxPool;
  pool.kernel = 2;
  flat.kind = LayerKind::kFlatten;
  n.layers = {relu, pool, flat};
  n.infer_shapes();
  REQUIRE(n.outputs() == 2 * 2 * 2);
  RowMatrixXd x(1, 32);
  for (int k = 0; k < 32; ++k) x(0, k) = (k % 5) - 2.0 + 0.1 * k;  // some negative entries
  const RowMatrixXd y = xbar::engine::nn::forward(n, x, {});
  for (int c = 0; c < 2; ++c)
    for (int oy = 0; oy < 2; ++oy)
      for (int ox = 0; ox < 2; ++ox) {
        double m = 0;  // ReLU first
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) m = std::max(m, x(0, (c * 4 + 2 * oy + dy) * 4 + 2 * ox + dx));
        CHECK(y(0, (c * 2 + oy) * 2 + ox) == m);
      }
}

TEST_CASE("a weight matrix that does not fit its input is refused naming the layer") {
  Network n;
  n.source = "m.pt";
  Layer d;
  d.kind = LayerKind::kDense;
  d.name = "fc1";
  d.w = RowMatrixXd::Zero(100, 10);
  d.b = Eigen::VectorXd::Zero(10);
  n.layers = {d};
  CHECK_THROWS_WITH_AS(n.infer_shapes(), "m.pt: layer fc1 has 100 inputs but receives 784 features", xbar::InputError);
}
