// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28 x 28 grey-scale images of clothing in 10
// classes, 60,000 for training and 10,000 for testing, in the IDX format of LeCun's MNIST.
// Debian ships it as package dataset-fashion-mnist under kDefaultFashionMnistDir.
//
//   engine::io::ImageSet test = engine::io::load_fashion_mnist(dir, engine::io::Split::kTest);
//   test.pixels[k * 784 + p] in [0, 1] (byte / 255), test.labels[k] in 0..9
//
// Files: {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzip-compressed (".gz", read with zlib)
// or plain (zlib's gzread passes uncompressed files through). IDX: big-endian magic 0x00000803
// (images: count, rows, cols, then bytes row-major) or 0x00000801 (labels: count, then bytes).
// Errors name the file: a missing dataset names the path looked for and the package to install,
// a truncated or wrong file names what it expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xbar::engine::io {

constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kImageSide = 28;
constexpr int64_t kImagePixels = kImageSide * kImageSide;
constexpr int kClasses = 10;

enum class Split { kTrain, kTest };
const char* to_string(Split s);

struct ImageSet {
  int64_t count = 0;
  std::vector<float> pixels;    // count x 784, row-major, byte / 255 in [0, 1]
  std::vector<uint8_t> labels;  // count, each 0..9
  std::string images_path, labels_path;  // the files read
};

// Reads the split from `dir`. limit > 0 keeps the first `limit` images (a subset, in file
// order); limit larger than the split is an error naming the key `key_for_limit`.
// Throws xbar::InputError naming the file and what is wrong.
ImageSet load_fashion_mnist(const std::string& dir, Split split, int64_t limit = 0,
                            const std::string& key_for_limit = "subset");

}  // namespace xbar::engine::io
