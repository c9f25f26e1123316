// A data set as .npy files, for `xbar evaluate --data DIR` (issue 19): a user's inputs and
// labels instead of Fashion-MNIST.
//
//   engine::io::SampleSet test = engine::io::load_npy_dataset(dir, Split::kTest, subset, "subset");
//   engine::io::SampleSet cal = engine::io::load_npy_dataset(dir, Split::kTrain, 1000, "calib-images");
//   test.values[k * test.features() + i], test.sample_shape, test.labels[k]
//
// Files in DIR:
//   test_inputs.npy    N x ...: N samples of any shape, float32 or float64, C order, finite;
//   test_labels.npy    (N,): integers (int8 .. int64, uint8 .. uint64), each in 0 .. 2^31 - 1;
//   calib_inputs.npy   M x ...: the calibration inputs (the DAC full scale of every layer, the ADC
//                      range of every tile), the same sample shape as test_inputs.npy.
// Split::kTest reads the first two, Split::kTrain (calibration) the third. Inputs go to the models
// as float32 (what they compute in; float64 files are rounded once, here). Every error names the
// file and what was expected: a missing file, a non-float input or non-integer label file,
// shapes that do not agree (label count, sample shapes of the two input files), a limit above N.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/io/fashion_mnist.h"

namespace xbar::engine::io {

constexpr const char* kTestInputsFile = "test_inputs.npy";
constexpr const char* kTestLabelsFile = "test_labels.npy";
constexpr const char* kCalibInputsFile = "calib_inputs.npy";

struct SampleSet {
  int64_t count = 0;
  std::vector<int64_t> sample_shape;  // the shape of one sample, e.g. (1, 28, 28) or (784,)
  std::vector<float> values;          // count x features(), row-major
  std::vector<int64_t> labels;        // count labels; empty for calibration inputs
  std::string inputs_path, labels_path;
  int64_t features() const;           // product of sample_shape (1 for a scalar sample)
};

// Reads the split of the data set in `dir`; limit > 0 keeps the first `limit` samples (an error
// naming `key_for_limit` when the file holds fewer).
SampleSet load_npy_dataset(const std::string& dir, Split split, int64_t limit, const std::string& key_for_limit);

// Integer labels of an .npy file, shape (N,).
std::vector<int64_t> read_npy_labels(const std::string& path);

// Fashion-MNIST images as samples of `sample_shape` (its product must be 784).
SampleSet samples_of(const ImageSet& images, const std::vector<int64_t>& sample_shape);

// The inverse for the built-in models: samples of 784 features as images (labels 0..9 kept;
// an error naming `what` when a sample has another size or a label does not fit 0..255).
ImageSet images_of(const SampleSet& samples, const std::string& what);

}  // namespace xbar::engine::io
