#include "engine/io/fashion_mnist.h"

#include <zlib.h>

#include <filesystem>
#include <memory>

#include "support/input_error.h"

namespace xbar::engine::io {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// "<dir>/<stem>.gz" if it exists, else "<dir>/<stem>"; a clear error naming both otherwise.
std::string find_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  const std::string gz = dir + "/" + stem + ".gz", plain = dir + "/" + stem;
  std::error_code ec;
  if (fs::is_regular_file(gz, ec)) return gz;
  if (fs::is_regular_file(plain, ec)) return plain;
  if (!fs::is_directory(dir, ec))
    throw InputError("Fashion-MNIST not found: directory '" + dir + "' does not exist (install the "
                     "Debian package dataset-fashion-mnist, which puts the files in " +
                     kDefaultFashionMnistDir + ", or give --data-dir DIR)");
  throw InputError("Fashion-MNIST not found: neither '" + gz + "' nor '" + plain + "' exists "
                   "(install the Debian package dataset-fashion-mnist, or give --data-dir DIR "
                   "holding the four IDX files)");
}

void read_exact(gzFile_s* f, void* dst, size_t n, const std::string& path, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = unsigned(std::min<size_t>(n - done, size_t(1) << 30));
    const int got = gzread(f, static_cast<char*>(dst) + done, chunk);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw InputError(path + ": cannot read " + what + ": " + (msg ? msg : "zlib error"));
    }
    if (got == 0)
      throw InputError(path + ": file ends inside the " + what + " (read " + std::to_string(done) +
                       " of " + std::to_string(n) + " bytes): truncated or not an IDX file");
    done += size_t(got);
  }
}

uint32_t read_be32(gzFile_s* f, const std::string& path, const std::string& what) {
  unsigned char b[4];
  read_exact(f, b, 4, path, what);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

GzFile open_gz(const std::string& path) {
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw InputError("cannot open '" + path + "' for reading");
  return f;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

const char* to_string(Split s) { return s == Split::kTrain ? "train" : "test"; }

ImageSet load_fashion_mnist(const std::string& dir, Split split, int64_t limit,
                            const std::string& key_for_limit) {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  ImageSet s;
  s.images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  s.labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");

  GzFile fi = open_gz(s.images_path);
  const uint32_t magic = read_be32(fi.get(), s.images_path, "IDX header");
  if (magic != kImagesMagic)
    throw InputError(s.images_path + ": IDX magic " + hex(magic) + ", expected " + hex(kImagesMagic) +
                     " (unsigned-byte images, 3 dimensions)");
  const uint32_t n = read_be32(fi.get(), s.images_path, "IDX header");
  const uint32_t rows = read_be32(fi.get(), s.images_path, "IDX header");
  const uint32_t cols = read_be32(fi.get(), s.images_path, "IDX header");
  if (rows != kImageSide || cols != kImageSide)
    throw InputError(s.images_path + ": images are " + std::to_string(rows) + " x " +
                     std::to_string(cols) + ", expected 28 x 28");
  if (n == 0) throw InputError(s.images_path + ": holds no images");

  GzFile fl = open_gz(s.labels_path);
  const uint32_t lmagic = read_be32(fl.get(), s.labels_path, "IDX header");
  if (lmagic != kLabelsMagic)
    throw InputError(s.labels_path + ": IDX magic " + hex(lmagic) + ", expected " + hex(kLabelsMagic) +
                     " (unsigned-byte labels, 1 dimension)");
  const uint32_t nl = read_be32(fl.get(), s.labels_path, "IDX header");
  if (nl != n)
    throw InputError(s.labels_path + ": holds " + std::to_string(nl) + " labels but " +
                     s.images_path + " holds " + std::to_string(n) + " images");

  if (limit < 0)
    throw InputError("key " + key_for_limit + " = " + std::to_string(limit) + ": must be >= 0 (0 = all)");
  if (limit > int64_t(n))
    throw InputError("key " + key_for_limit + " = " + std::to_string(limit) + ": the " +
                     to_string(split) + " split has only " + std::to_string(n) + " images (" +
                     s.images_path + ")");
  s.count = limit > 0 ? limit : int64_t(n);

  std::vector<uint8_t> bytes(size_t(s.count * kImagePixels));
  read_exact(fi.get(), bytes.data(), bytes.size(), s.images_path, "image data");
  s.pixels.resize(bytes.size());
  for (size_t k = 0; k < bytes.size(); ++k) s.pixels[k] = float(bytes[k]) / 255.0f;
  s.labels.resize(size_t(s.count));
  read_exact(fl.get(), s.labels.data(), s.labels.size(), s.labels_path, "label data");
  for (int64_t k = 0; k < s.count; ++k)
    if (s.labels[size_t(k)] >= kClasses)
      throw InputError(s.labels_path + ": label " + std::to_string(k) + " = " +
                       std::to_string(int(s.labels[size_t(k)])) + ", expected 0..9");
  return s;
}

}  // namespace xbar::engine::io
