#include "engine/io/npy_dataset.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/io/npy.h"
#include "engine/io/npy_header.h"
#include "support/input_error.h"

namespace xbar::engine::io {

namespace {

// numpy.save writes headers of a few hundred bytes; a larger length is a corrupt file, refused
// before anything is allocated for it.
constexpr uint32_t kMaxLabelHeaderBytes = 1 << 16;
constexpr int64_t kMaxLabel = std::numeric_limits<int32_t>::max();

std::string join(const std::string& dir, const char* file) { return (std::filesystem::path(dir) / file).string(); }

void require_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError("data set file '" + path + "' does not exist (--data DIR holds " + what + ")");
}

// An integer dtype's size and signedness from its descr ("<i8", "|u1", ...).
bool integer_dtype(const std::string& d, size_t& bytes, bool& is_signed) {
  if (d.size() != 3 || (d[0] != '<' && d[0] != '|' && d[0] != '=') || (d[1] != 'i' && d[1] != 'u')) return false;
  if (d[2] != '1' && d[2] != '2' && d[2] != '4' && d[2] != '8') return false;
  if (d[0] == '|' && d[2] != '1') return false;  // "not applicable" byte order only for one byte
  bytes = size_t(d[2] - '0');
  is_signed = d[1] == 'i';
  return true;
}

}  // namespace

int64_t SampleSet::features() const {
  int64_t f = 1;
  for (int64_t e : sample_shape) f *= e;
  return f;
}

std::vector<int64_t> read_npy_labels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the label file");
  in.seekg(0, std::ios::end);
  const uint64_t file_bytes = uint64_t(in.tellg());
  in.seekg(0);
  unsigned char pre[10] = {};
  in.read(reinterpret_cast<char*>(pre), 8);
  if (in.gcount() < 8 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    throw InputError(path + ": not an npy file (expected integer labels written by numpy.save)");
  const int major = pre[6];
  if (!((major == 1 || major == 2 || major == 3) && pre[7] == 0))
    throw InputError(path + ": unsupported npy format version " + std::to_string(major) + "." +
                     std::to_string(pre[7]) + " (expected 1.0, 2.0 or 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(pre + 8), std::streamsize(len_bytes));
  if (size_t(in.gcount()) < len_bytes) throw InputError(path + ": truncated npy header");
  uint32_t header_bytes = 0;
  for (size_t k = 0; k < len_bytes; ++k) header_bytes |= uint32_t(pre[8 + k]) << (8 * k);
  if (header_bytes > kMaxLabelHeaderBytes || header_bytes > file_bytes)
    throw InputError(path + ": npy header length " + std::to_string(header_bytes) + " bytes is not plausible");
  std::string header(header_bytes, '\0');
  in.read(header.data(), header_bytes);
  if (uint32_t(in.gcount()) < header_bytes) throw InputError(path + ": truncated npy header");
  const internal::NpyHeader h = internal::parse_npy_header(header, path);
  size_t item = 0;
  bool is_signed = true;
  if (!integer_dtype(h.descr, item, is_signed))
    throw InputError(path + ": labels of dtype '" + h.descr + "' (expected integers: int8 .. int64 or uint8 .. "
                     "uint64, little-endian; save them with labels.astype(np.int64))");
  if (h.shape.size() != 1)
    throw InputError(path + ": labels have shape " + shape_to_string(h.shape) + " (expected (N,): one label per sample)");
  const uint64_t n = uint64_t(h.shape[0]);
  const uint64_t data_start = 8 + len_bytes + header_bytes;
  if (file_bytes - data_start != n * item)
    throw InputError(path + ": " + std::to_string(file_bytes - data_start) + " bytes of data for shape " +
                     shape_to_string(h.shape) + " '" + h.descr + "' (expected " + std::to_string(n * item) + ")");
  std::vector<unsigned char> bytes(n * item);
  in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
  std::vector<int64_t> labels(n);
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t u = 0;
    for (size_t b = 0; b < item; ++b) u |= uint64_t(bytes[k * item + b]) << (8 * b);
    int64_t v;
    if (is_signed && item < 8 && (u >> (8 * item - 1)) & 1) {
      v = int64_t(u | (~uint64_t(0) << (8 * item)));  // sign-extend
    } else if (!is_signed && u > uint64_t(kMaxLabel)) {
      v = -1;  // reported below as out of range
    } else {
      v = int64_t(u);
    }
    if (v < 0 || v > kMaxLabel)
      throw InputError(path + ": label [" + std::to_string(k) + "] = " +
                       (is_signed ? std::to_string(v) : std::to_string(u)) + " (expected a class index in 0 .. " +
                       std::to_string(kMaxLabel) + ")");
    labels[k] = v;
  }
  return labels;
}

namespace {

SampleSet read_inputs(const std::string& path, int64_t limit, const std::string& key_for_limit,
                      int64_t* full_count = nullptr) {
  const NpyArray a = read_npy(path);
  if (a.shape.empty())
    throw InputError(path + ": inputs have shape () (expected (N, ...): N samples, the first dimension)");
  require_finite(a, path, "input");
  SampleSet s;
  s.inputs_path = path;
  s.sample_shape.assign(a.shape.begin() + 1, a.shape.end());
  const int64_t n = a.shape[0];
  if (full_count) *full_count = n;
  if (limit > n)
    throw InputError("key " + key_for_limit + " = " + std::to_string(limit) + ": " + path + " holds " +
                     std::to_string(n) + " samples");
  s.count = limit > 0 ? limit : n;
  const int64_t f = s.features();
  s.values.resize(size_t(s.count * f));
  for (size_t k = 0; k < s.values.size(); ++k) {
    const double v = a.data[k];
    if (std::abs(v) > double(std::numeric_limits<float>::max()))
      throw InputError(path + ": input element " + std::to_string(k) + " = " + std::to_string(v) +
                       " does not fit float32 (the precision the models compute in)");
    s.values[k] = float(v);
  }
  return s;
}

}  // namespace

SampleSet load_npy_dataset(const std::string& dir, Split split, int64_t limit, const std::string& key_for_limit) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InputError("key data = '" + dir + "': not a directory (expected DIR with " + kTestInputsFile + ", " +
                     kTestLabelsFile + " and " + kCalibInputsFile + ")");
  if (split == Split::kTrain) {
    const std::string path = join(dir, kCalibInputsFile);
    require_file(path, "calib_inputs.npy: the calibration inputs, M x ... like test_inputs.npy");
    return read_inputs(path, limit, key_for_limit);
  }
  const std::string inputs = join(dir, kTestInputsFile), labels = join(dir, kTestLabelsFile);
  require_file(inputs, "test_inputs.npy: N x ... float32/float64 inputs");
  require_file(labels, "test_labels.npy: N integer labels");
  int64_t n = 0;
  SampleSet s = read_inputs(inputs, limit, key_for_limit, &n);
  std::vector<int64_t> l = read_npy_labels(labels);
  if (int64_t(l.size()) != n)
    throw InputError(labels + ": " + std::to_string(l.size()) + " labels for the " + std::to_string(n) +
                     " samples of " + inputs + " (expected one label per sample)");
  l.resize(size_t(s.count));
  s.labels = std::move(l);
  s.labels_path = labels;
  return s;
}

SampleSet samples_of(const ImageSet& images, const std::vector<int64_t>& sample_shape) {
  SampleSet s;
  s.count = images.count;
  s.sample_shape = sample_shape;
  if (s.features() != kImagePixels)
    throw InputError("key input-shape: " + shape_to_string(sample_shape) + " holds " + std::to_string(s.features()) +
                     " values, a Fashion-MNIST image " + std::to_string(kImagePixels) + " (e.g. 1,28,28 or 784)");
  s.values = images.pixels;
  s.labels.assign(images.labels.begin(), images.labels.end());
  s.inputs_path = images.images_path;
  s.labels_path = images.labels_path;
  return s;
}

ImageSet images_of(const SampleSet& s, const std::string& what) {
  if (s.features() != kImagePixels)
    throw InputError(what + ": samples of shape " + shape_to_string(s.sample_shape) + " (" +
                     std::to_string(s.features()) + " values), but the built-in models take " +
                     std::to_string(kImagePixels) + " (28 x 28 images)");
  ImageSet r;
  r.count = s.count;
  r.pixels = s.values;
  r.labels.reserve(s.labels.size());
  for (size_t k = 0; k < s.labels.size(); ++k) {
    if (s.labels[k] > 255)
      throw InputError(s.labels_path + ": label [" + std::to_string(k) + "] = " + std::to_string(s.labels[k]) +
                       " (the built-in models have " + std::to_string(kClasses) + " classes)");
    r.labels.push_back(uint8_t(s.labels[k]));
  }
  r.images_path = s.inputs_path;
  r.labels_path = s.labels_path;
  return r;
}

}  // namespace xbar::engine::io
