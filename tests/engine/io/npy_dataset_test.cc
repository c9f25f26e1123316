// The .npy data sets of `xbar evaluate --data` against the referee for the format, NumPy: label
// files of every integer dtype NumPy writes read back value for value, inputs of float32 and
// float64 as float32, and each way a data set can be wrong named (file, what, what was expected).
#include "engine/io/npy_dataset.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/input_error.h"
#include "tests/engine/scratch_run.h"

namespace {

using xbar::engine::io::SampleSet;
using xbar::engine::io::Split;

// Debian's python3 (python3-numpy), the interpreter the rest of the suite uses for NumPy.
void numpy(const xbar::test::ScratchDir& d, const std::string& code) {
  const std::string script = (d.path / "make.py").string();
  std::ofstream(script) << "import numpy as np, os\nos.chdir('" << d.path.string() << "')\n" << code;
  const std::string cmd = "/usr/bin/python3 " + script;
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "NumPy (python3-numpy) writes the fixtures: " << cmd);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const xbar::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace

TEST_CASE("integer labels of every dtype NumPy writes are read back value for value") {
  xbar::test::ScratchDir d;
  numpy(d, "v = [0, 3, 9, 127, 0, 1]\n"
           "for t in ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']:\n"
           "    np.save(t + '.npy', np.array(v, dtype=t))\n"
           "np.save('big.npy', np.array([0, 2**31 - 1], dtype='int64'))\n");
  for (const char* t : {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}) {
    CAPTURE(t);
    CHECK(xbar::engine::io::read_npy_labels((d.path / (std::string(t) + ".npy")).string()) ==
          std::vector<int64_t>{0, 3, 9, 127, 0, 1});
  }
  CHECK(xbar::engine::io::read_npy_labels((d.path / "big.npy").string()) == std::vector<int64_t>{0, 2147483647});
}

TEST_CASE("labels that are not class indices are refused, naming the file and the element") {
  xbar::test::ScratchDir d;
  numpy(d, "np.save('float.npy', np.array([0.0, 1.0]))\n"
           "np.save('matrix.npy', np.zeros((2, 2), dtype='int64'))\n"
           "np.save('negative.npy', np.array([1, -2], dtype='int16'))\n"
           "np.save('huge.npy', np.array([2**40], dtype='uint64'))\n"
           "open('short.npy', 'wb').write(open('negative.npy', 'rb').read()[:-1])\n");
  auto msg = [&](const char* f) {
    return message_of([&] { xbar::engine::io::read_npy_labels((d.path / f).string()); });
  };
  CHECK(msg("float.npy").find("labels of dtype '<f8' (expected integers") != std::string::npos);
  CHECK(msg("matrix.npy").find("labels have shape (2, 2) (expected (N,)") != std::string::npos);
  CHECK(msg("negative.npy").find("label [1] = -2 (expected a class index in 0 .. 2147483647)") != std::string::npos);
  CHECK(msg("huge.npy").find("label [0] = 1099511627776") != std::string::npos);
  CHECK(msg("short.npy").find("bytes of data for shape (2,)") != std::string::npos);
}

TEST_CASE("a data set directory gives its test samples with labels and its calibration samples") {
  xbar::test::ScratchDir d;
  numpy(d, "x = (np.arange(5 * 2 * 3) / 7).reshape(5, 2, 3)\n"
           "np.save('test_inputs.npy', x.astype('float64'))\n"
           "np.save('test_labels.npy', np.array([4, 3, 2, 1, 0], dtype='int32'))\n"
           "np.save('calib_inputs.npy', np.ones((3, 2, 3), dtype='float32'))\n");
  const SampleSet t = xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTest, 4, "subset");
  CHECK(t.count == 4);
  CHECK(t.sample_shape == std::vector<int64_t>{2, 3});
  CHECK(t.features() == 6);
  CHECK(t.labels == std::vector<int64_t>{4, 3, 2, 1});
  REQUIRE(t.values.size() == 24);
  // float64 inputs as float32: the nearest float of k / 7.
  for (size_t k = 0; k < t.values.size(); ++k) CHECK(t.values[k] == float(double(k) / 7));
  const SampleSet c = xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTrain, 0, "calib-images");
  CHECK(c.count == 3);
  CHECK(c.labels.empty());
  CHECK(message_of([&] { xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTest, 6, "subset"); })
            .find("key subset = 6: ") != std::string::npos);
}

TEST_CASE("a data set with missing files or labels that do not match the samples is named clearly") {
  xbar::test::ScratchDir d;
  CHECK(message_of([&] { xbar::engine::io::load_npy_dataset((d.path / "nope").string(), Split::kTest, 0, "subset"); })
            .find("key data = '") != std::string::npos);
  CHECK(message_of([&] { xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTest, 0, "subset"); })
            .find("test_inputs.npy' does not exist") != std::string::npos);
  numpy(d, "np.save('test_inputs.npy', np.zeros((4, 3), dtype='float32'))\n"
           "np.save('test_labels.npy', np.zeros(5, dtype='int64'))\n");
  CHECK(message_of([&] { xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTest, 0, "subset"); })
            .find("5 labels for the 4 samples") != std::string::npos);
  CHECK(message_of([&] { xbar::engine::io::load_npy_dataset(d.path.string(), Split::kTrain, 0, "calib-images"); })
            .find("calib_inputs.npy' does not exist") != std::string::npos);
}
