// Fashion-MNIST reader: the Debian package's files read back with the figures Python's gzip
// module gives for the same files, and clear errors for a missing or damaged dataset.
#include <doctest/doctest.h>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/input_error.h"
#include "engine/io/fashion_mnist.h"
#include "tests/engine/scratch_run.h"

using xbar::engine::io::ImageSet;
using xbar::engine::io::load_fashion_mnist;
using xbar::engine::io::Split;

namespace {

// Writes `bytes` gzip-compressed to path.
void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 255), char((v >> 8) & 255), char(v & 255)};
}

}  // namespace

TEST_CASE("the test split reads as Python's gzip reads it: 10000 images, 1000 per class") {
  const ImageSet s = load_fashion_mnist(xbar::engine::io::kDefaultFashionMnistDir, Split::kTest);
  REQUIRE(s.count == 10000);
  REQUIRE(s.pixels.size() == size_t(10000 * 784));
  // Referee: python3 -c "import gzip; l = gzip.open('.../t10k-labels-idx1-ubyte.gz').read()[8:]; ..."
  const int first_labels[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int k = 0; k < 10; ++k) CHECK(int(s.labels[size_t(k)]) == first_labels[k]);
  int per_class[10] = {};
  for (uint8_t l : s.labels) ++per_class[l];
  for (int c = 0; c < 10; ++c) CHECK(per_class[c] == 1000);
  // Sum of the first image's bytes (33456) and the mean byte over the split (73.14656658163265).
  double first = 0, all = 0;
  for (int p = 0; p < 784; ++p) first += s.pixels[size_t(p)];
  float lo = 1, hi = 0;
  for (float v : s.pixels) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    all += v;
  }
  CHECK(lo == 0.0f);
  CHECK(hi == 1.0f);
  CHECK(first * 255 == doctest::Approx(33456).epsilon(1e-6));
  CHECK(all * 255 / double(s.pixels.size()) == doctest::Approx(73.14656658163265).epsilon(1e-6));
}

TEST_CASE("a subset keeps the first images in file order and a too large one is refused") {
  const ImageSet s = load_fashion_mnist(xbar::engine::io::kDefaultFashionMnistDir, Split::kTest, 3);
  REQUIRE(s.count == 3);
  CHECK(int(s.labels[0]) == 9);
  CHECK(int(s.labels[2]) == 1);
  CHECK_THROWS_WITH_AS(load_fashion_mnist(xbar::engine::io::kDefaultFashionMnistDir, Split::kTest, 10001),
                       doctest::Contains("key subset = 10001: the test split has only 10000 images"),
                       xbar::InputError);
}

TEST_CASE("a missing dataset names the path looked for and the Debian package") {
  CHECK_THROWS_WITH_AS(load_fashion_mnist("/nonexistent/fmnist", Split::kTest),
                       doctest::Contains("'/nonexistent/fmnist' does not exist (install the Debian package dataset-fashion-mnist"),
                       xbar::InputError);
  xbar::test::ScratchDir d;
  const std::string expected = d.path.string() + "/train-images-idx3-ubyte.gz' nor";
  CHECK_THROWS_WITH_AS(load_fashion_mnist(d.path.string(), Split::kTrain), doctest::Contains(expected.c_str()),
                       xbar::InputError);
}

TEST_CASE("damaged files are refused with the file and what was expected") {
  xbar::test::ScratchDir d;
  const std::string dir = d.path.string();
  const std::string labels = be32(0x801) + be32(2) + std::string("\x01\x02", 2);
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", labels);
  SUBCASE("wrong magic") {
    write_gz(dir + "/t10k-images-idx3-ubyte.gz", be32(0x801) + be32(2) + be32(28) + be32(28));
    CHECK_THROWS_WITH_AS(load_fashion_mnist(dir, Split::kTest), doctest::Contains("IDX magic 0x00000801, expected 0x00000803"),
                         xbar::InputError);
  }
  SUBCASE("truncated image data") {
    write_gz(dir + "/t10k-images-idx3-ubyte.gz", be32(0x803) + be32(2) + be32(28) + be32(28) + std::string(800, '\0'));
    CHECK_THROWS_WITH_AS(load_fashion_mnist(dir, Split::kTest),
                         doctest::Contains("file ends inside the image data (read 800 of 1568 bytes)"), xbar::InputError);
  }
  SUBCASE("label count disagrees with image count") {
    write_gz(dir + "/t10k-images-idx3-ubyte.gz", be32(0x803) + be32(3) + be32(28) + be32(28) + std::string(3 * 784, '\0'));
    CHECK_THROWS_WITH_AS(load_fashion_mnist(dir, Split::kTest), doctest::Contains("holds 2 labels but"), xbar::InputError);
  }
  SUBCASE("uncompressed files are read too") {
    std::filesystem::remove(dir + "/t10k-labels-idx1-ubyte.gz");
    std::ofstream(dir + "/t10k-labels-idx1-ubyte", std::ios::binary) << labels;
    write_gz(dir + "/t10k-images-idx3-ubyte.gz", be32(0x803) + be32(2) + be32(28) + be32(28) + std::string(2 * 784, '\xff'));
    const ImageSet s = load_fashion_mnist(dir, Split::kTest);
    CHECK(s.count == 2);
    CHECK(int(s.labels[1]) == 2);
    CHECK(s.pixels[100] == 1.0f);
  }
}
