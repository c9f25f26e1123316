// Small networks built in code for the NN unit tests (no training, no files).
#pragma once

#include <cstdint>

#include "engine/nn/nn_network.h"
#include "support/random_array.h"

namespace xbar::test {

// A one-layer network: in -> out dense, weights in [-1, 1], biases in [-0.1, 0.1], both drawn
// from `seed`.
inline engine::nn::Network dense_net(int64_t in, int64_t out, uint64_t seed) {
  using namespace engine::nn;
  Network n;
  n.arch = "test";
  n.input_c = in;
  n.input_h = n.input_w = 1;
  Layer d;
  d.kind = LayerKind::kDense;
  d.name = "fc";
  d.w = support::uniform_matrix(in, out, -1, 1, seed);
  d.b = support::uniform_matrix(out, 1, -0.1, 0.1, seed + 1).col(0);
  n.layers = {d};
  n.infer_shapes();
  return n;
}

}  // namespace xbar::test
