#include "engine/nn/nn_network.h"

#include <limits>

#include "support/input_error.h"

namespace xbar::engine::nn {

const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::kDense: return "dense";
    case LayerKind::kConv: return "conv";
    case LayerKind::kRelu: return "relu";
    case LayerKind::kMaxPool: return "maxpool";
    case LayerKind::kFlatten: return "flatten";
  }
  return "?";
}

void Network::infer_shapes() {
  int64_t c = input_c, h = input_h, w = input_w;
  for (Layer& l : layers) {
    l.in_c = c;
    l.in_h = h;
    l.in_w = w;
    switch (l.kind) {
      case LayerKind::kDense:
        if (l.fan_in() != c * h * w)
          throw InputError(source + ": layer " + l.name + " has " + std::to_string(l.fan_in()) +
                           " inputs but receives " + std::to_string(c * h * w) + " features");
        c = l.fan_out();
        h = w = 1;
        break;
      case LayerKind::kConv:
        if (l.kernel < 1 || l.fan_in() != c * l.kernel * l.kernel)
          throw InputError(source + ": conv layer " + l.name + " has fan-in " + std::to_string(l.fan_in()) +
                           ", expected " + std::to_string(c) + " channels x " + std::to_string(l.kernel) +
                           "^2");
        h = h + 2 * l.padding - l.kernel + 1;
        w = w + 2 * l.padding - l.kernel + 1;
        c = l.fan_out();
        if (h < 1 || w < 1) throw InputError(source + ": conv layer " + l.name + " leaves no output pixels");
        break;
      case LayerKind::kMaxPool:
        if (l.kernel < 1 || h < l.kernel || w < l.kernel)
          throw InputError(source + ": max pool " + l.name + " window does not fit its input");
        h /= l.kernel;
        w /= l.kernel;
        break;
      case LayerKind::kRelu:
      case LayerKind::kFlatten:
        break;
    }
    if (l.is_mvm() && l.b.size() != l.fan_out())
      throw InputError(source + ": layer " + l.name + " has " + std::to_string(l.b.size()) +
                       " biases for " + std::to_string(l.fan_out()) + " outputs");
    l.out_c = c;
    l.out_h = h;
    l.out_w = w;
  }
}

std::vector<size_t> Network::mvm_layers() const {
  std::vector<size_t> r;
  for (size_t k = 0; k < layers.size(); ++k)
    if (layers[k].is_mvm()) r.push_back(k);
  return r;
}

RowMatrixXd mvm_inputs(const Layer& l, const RowMatrixXd& x) {
  if (l.kind == LayerKind::kDense) return x;
  const int64_t b = x.rows(), k = l.kernel, p = l.padding;
  const int64_t reads = l.out_h * l.out_w;
  RowMatrixXd cols = RowMatrixXd::Zero(b * reads, l.fan_in());
  for (int64_t n = 0; n < b; ++n)
    for (int64_t oy = 0; oy < l.out_h; ++oy)
      for (int64_t ox = 0; ox < l.out_w; ++ox) {
        double* dst = cols.row(n * reads + oy * l.out_w + ox).data();
        for (int64_t c = 0; c < l.in_c; ++c)
          for (int64_t ky = 0; ky < k; ++ky) {
            const int64_t iy = oy + ky - p;
            if (iy < 0 || iy >= l.in_h) continue;
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t ix = ox + kx - p;
              if (ix < 0 || ix >= l.in_w) continue;
              dst[(c * k + ky) * k + kx] = x(n, (c * l.in_h + iy) * l.in_w + ix);
            }
          }
      }
  return cols;
}

RowMatrixXd mvm_outputs(const Layer& l, const RowMatrixXd& y, int64_t batch) {
  if (l.kind == LayerKind::kDense) return y.rowwise() + l.b.transpose();
  const int64_t reads = l.out_h * l.out_w, out = l.fan_out();
  RowMatrixXd r(batch, out * reads);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t q = 0; q < reads; ++q) r(n, o * reads + q) = y(n * reads + q, o) + l.b(o);
  return r;
}

namespace {

RowMatrixXd max_pool(const Layer& l, const RowMatrixXd& x) {
  const int64_t k = l.kernel;
  RowMatrixXd r(x.rows(), l.out_features());
  for (int64_t n = 0; n < x.rows(); ++n)
    for (int64_t c = 0; c < l.out_c; ++c)
      for (int64_t oy = 0; oy < l.out_h; ++oy)
        for (int64_t ox = 0; ox < l.out_w; ++ox) {
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t dy = 0; dy < k; ++dy)
            for (int64_t dx = 0; dx < k; ++dx)
              m = std::max(m, x(n, (c * l.in_h + oy * k + dy) * l.in_w + ox * k + dx));
          r(n, (c * l.out_h + oy) * l.out_w + ox) = m;
        }
  return r;
}

}  // namespace

RowMatrixXd forward(const Network& net, const RowMatrixXd& x0, const MvmFunction& mvm) {
  RowMatrixXd x = x0;
  for (size_t k = 0; k < net.layers.size(); ++k) {
    const Layer& l = net.layers[k];
    switch (l.kind) {
      case LayerKind::kDense:
      case LayerKind::kConv: {
        RowMatrixXd in = mvm_inputs(l, x);
        const RowMatrixXd y = mvm(k, in);
        x = mvm_outputs(l, y, x.rows());
        break;
      }
      case LayerKind::kRelu: x = x.cwiseMax(0.0); break;
      case LayerKind::kMaxPool: x = max_pool(l, x); break;
      case LayerKind::kFlatten: break;
    }
  }
  return x;
}

std::vector<int> argmax_rows(const RowMatrixXd& logits) {
  std::vector<int> r(size_t(logits.rows()));
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    Eigen::Index j = 0;
    logits.row(i).maxCoeff(&j);
    r[size_t(i)] = int(j);
  }
  return r;
}

}  // namespace xbar::engine::nn
