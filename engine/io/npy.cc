#include "engine/io/npy.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy_header.h"

namespace xbar::engine::io {
namespace {

// "\x93NUMPY", then major and minor version bytes, then the header length: a little-endian
// uint16 for version 1.0, uint32 for 2.0 and 3.0 (3.0 only changes the header to UTF-8).
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicBytes = 6;
// numpy aligns the start of the data to 64 bytes so the file can be memory-mapped.
constexpr std::size_t kArrayAlign = 64;
// numpy >= 1.23 reserves room in the header so that the first axis can grow in place to
// this many digits; we copy it so our files are byte-identical to numpy.save's.
constexpr std::size_t kGrowthAxisMaxDigits = 21;

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// Reverses each `item_bytes`-sized element in place: .npy data is little-endian.
void swap_bytes(char* bytes, std::size_t count, std::size_t item_bytes) {
  for (std::size_t i = 0; i < count; ++i) {
    char* item = bytes + i * item_bytes;
    for (std::size_t a = 0, b = item_bytes - 1; a < b; ++a, --b) std::swap(item[a], item[b]);
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw InputError(path + ": " + message);
}

// Bytes per element for the dtypes we read; refuses everything else with the reason.
std::size_t item_bytes_for(const std::string& descr, const std::string& path) {
  if (descr == "<f8") return 8;
  if (descr == "<f4") return 4;
  if (descr == ">f8" || descr == ">f4") {
    fail(path, "big-endian dtype '" + descr + "' is not supported (" + internal::kExpectedDtypes +
                   "); save with a.astype('<" + descr.substr(1) + "')");
  }
  fail(path, "dtype '" + descr + "' is not supported (" + internal::kExpectedDtypes + ")");
}

uint32_t read_little_endian(const unsigned char* bytes, std::size_t count) {
  uint32_t value = 0;
  for (std::size_t i = count; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

// Reads up to `count` bytes; fewer only at end of file. Throws on a read error.
std::size_t read_some(std::istream& in, char* out, std::size_t count, const std::string& path) {
  in.read(out, static_cast<std::streamsize>(count));
  if (in.bad()) fail(path, std::string("read error: ") + std::strerror(errno));
  return static_cast<std::size_t>(in.gcount());
}

// Element count times item size, refusing shapes whose byte size overflows.
uint64_t data_bytes_for(const std::vector<int64_t>& shape, std::size_t item_bytes,
                        const std::string& path) {
  uint64_t bytes = item_bytes;
  for (const int64_t extent : shape) {
    constexpr uint64_t kMaxBytes = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (extent != 0 && bytes > kMaxBytes / static_cast<uint64_t>(extent)) {
      fail(path, "shape " + shape_to_string(shape) + " is too large to hold in memory");
    }
    bytes *= static_cast<uint64_t>(extent);
  }
  return bytes;
}

// The header dict numpy.save writes, including its trailing room for the first axis.
std::string header_dict_for(const std::vector<int64_t>& shape, const std::string& descr = "<f8") {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_to_string(shape) + ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape.front()).size();
    if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  return dict;
}

// Magic, version, length and padded header, as numpy's _wrap_header: the padding is
// kArrayAlign - (prefix + header + '\n') % kArrayAlign spaces, i.e. 1..64 of them.
std::string wrap_header(const std::string& dict) {
  const std::size_t header_bytes = dict.size() + 1;  // + '\n'
  std::size_t length_field_bytes = 2;
  std::size_t padding =
      kArrayAlign - (kMagicBytes + 2 + length_field_bytes + header_bytes) % kArrayAlign;
  if (header_bytes + padding > 0xFFFF) {  // does not fit a uint16: format 2.0
    length_field_bytes = 4;
    padding = kArrayAlign - (kMagicBytes + 2 + length_field_bytes + header_bytes) % kArrayAlign;
  }
  const uint32_t length = static_cast<uint32_t>(header_bytes + padding);
  std::string out(kMagic, kMagicBytes);
  out += static_cast<char>(length_field_bytes == 2 ? 1 : 2);
  out += '\0';
  for (std::size_t i = 0; i < length_field_bytes; ++i) {
    out += static_cast<char>((length >> (8 * i)) & 0xFF);
  }
  out += dict;
  out.append(padding, ' ');
  out += '\n';
  return out;
}

void write_doubles(std::ostream& out, const double* data, std::size_t count) {
  if (host_is_little_endian()) {
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(count * sizeof(double)));
    return;
  }
  for (std::size_t i = 0; i < count; ++i) {
    char bytes[sizeof(double)];
    std::memcpy(bytes, data + i, sizeof bytes);
    swap_bytes(bytes, 1, sizeof bytes);
    out.write(bytes, sizeof bytes);
  }
}

bool shape_matches(const std::vector<int64_t>& shape, const ShapeSpec& spec) {
  if (shape.size() != spec.extents.size()) return false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (spec.extents[d] != kAnyExtent && spec.extents[d] != shape[d]) return false;
  }
  return true;
}

// The C-order flat index `flat` as "[i, j, k]".
std::string index_to_string(const std::vector<int64_t>& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string out = "[";
  for (std::size_t d = 0; d < index.size(); ++d) {
    if (d > 0) out += ", ";
    out += std::to_string(index[d]);
  }
  return out + "]";
}

[[noreturn]] void throw_non_finite(const std::string& path, const std::string& where, double value) {
  const std::string kind = std::isnan(value) ? "NaN" : (value > 0 ? "inf" : "-inf");
  throw NumericalError("refusing to write '" + path + "': " + where + " is " + kind +
                       " (a numerical failure upstream; results never hold NaN or infinities)");
}

// NonFinite::kRefuse: the first NaN or infinity, in shape coordinates, as a numerical failure.
void refuse_non_finite(const std::string& path, const double* data, std::size_t count,
                       const std::vector<int64_t>& shape) {
  for (std::size_t i = 0; i < count; ++i) {
    if (std::isfinite(data[i])) continue;
    throw_non_finite(path,
                     shape.empty() ? "the value"
                                   : "element " + index_to_string(shape, static_cast<int64_t>(i)),
                     data[i]);
  }
}

}  // namespace

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (const int64_t extent : shape) count *= extent;
  return count;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d > 0) out += ", ";
    out += std::to_string(shape[d]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open for reading: ") + std::strerror(errno));
  return read_npy(in, path);
}

namespace {

// What the magic, version, length and header of an .npy file say about its data.
struct NpyPrefix {
  internal::NpyHeader header;
  std::size_t item_bytes = 0;
  uint64_t expected_bytes = 0;  // of data after the header
  uint64_t header_end = 0;      // offset of the first data byte
};

NpyPrefix read_npy_prefix(std::istream& in, const std::string& path) {
  // Magic string, version, header length.
  unsigned char prefix[kMagicBytes + 2 + 4] = {};
  const std::size_t got = read_some(in, reinterpret_cast<char*>(prefix), kMagicBytes + 2, path);
  if (got < kMagicBytes || std::memcmp(prefix, kMagic, kMagicBytes) != 0) {
    fail(path,
         "not an npy file (it does not start with \"\\x93NUMPY\"; expected a file "
         "written by numpy.save)");
  }
  if (got < kMagicBytes + 2) fail(path, "truncated npy header (the file ends in the magic)");
  const int major = prefix[kMagicBytes];
  const int minor = prefix[kMagicBytes + 1];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    fail(path, "unsupported npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
  }
  const std::size_t length_field_bytes = major == 1 ? 2 : 4;
  if (read_some(in, reinterpret_cast<char*>(prefix + kMagicBytes + 2), length_field_bytes, path) <
      length_field_bytes) {
    fail(path, "truncated npy header (the file ends in the header length)");
  }
  const uint32_t header_bytes = read_little_endian(prefix + kMagicBytes + 2, length_field_bytes);

  // Read the header in chunks so a corrupt length cannot make us allocate 4 GiB up front.
  std::string header_text;
  constexpr std::size_t kChunkBytes = 1 << 16;
  while (header_text.size() < header_bytes) {
    const std::size_t want = std::min<std::size_t>(kChunkBytes, header_bytes - header_text.size());
    const std::size_t old_size = header_text.size();
    header_text.resize(old_size + want);
    const std::size_t read = read_some(in, &header_text[old_size], want, path);
    header_text.resize(old_size + read);
    if (read < want) {
      fail(path, "truncated npy header (header length " + std::to_string(header_bytes) +
                     " bytes, file has " + std::to_string(header_text.size()) + ")");
    }
  }

  const internal::NpyHeader header = internal::parse_npy_header(header_text, path);
  if (header.fortran_order && header.shape.size() > 1) {
    // For 0-d and 1-D arrays Fortran and C order are the same bytes, so only refuse ND.
    fail(path, "Fortran order is not supported; save with np.ascontiguousarray");
  }
  NpyPrefix p;
  p.item_bytes = item_bytes_for(header.descr, path);
  p.expected_bytes = data_bytes_for(header.shape, p.item_bytes, path);
  p.header_end = kMagicBytes + 2 + length_field_bytes + uint64_t(header_bytes);
  p.header = header;
  return p;
}

}  // namespace

NpyInfo read_npy_info(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open for reading: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail(path, "cannot open for reading: it is a directory (expected an .npy file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open for reading: ") + std::strerror(errno));
  const NpyPrefix p = read_npy_prefix(in, path);
  if (S_ISREG(st.st_mode)) {
    const uint64_t have = uint64_t(st.st_size) >= p.header_end ? uint64_t(st.st_size) - p.header_end : 0;
    if (have < p.expected_bytes)
      fail(path, "expected " + std::to_string(p.expected_bytes) + " bytes of data for shape " +
                     shape_to_string(p.header.shape) + " '" + p.header.descr + "', file has " + std::to_string(have));
    if (have > p.expected_bytes)
      fail(path, std::to_string(have - p.expected_bytes) + " bytes of trailing data after the " +
                     std::to_string(p.expected_bytes) + " bytes of array data for shape " +
                     shape_to_string(p.header.shape) + " '" + p.header.descr +
                     "' (expected the file to end with the array)");
  }
  return {p.header.shape, p.header.descr};
}

NpyArray read_npy(std::istream& in, const std::string& path) {
  const NpyPrefix prefix = read_npy_prefix(in, path);
  const internal::NpyHeader& header = prefix.header;
  const std::size_t item_bytes = prefix.item_bytes;
  const uint64_t expected_bytes = prefix.expected_bytes;
  constexpr std::size_t kChunkBytes = 1 << 16;

  // Data: read at most what the shape asks for, then count anything left over.
  std::vector<char> bytes;
  std::size_t have = 0;
  while (have < expected_bytes) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<uint64_t>(kChunkBytes * 16, expected_bytes - have));
    bytes.resize(have + want);
    const std::size_t read = read_some(in, bytes.data() + have, want, path);
    have += read;
    if (read < want) {
      fail(path, "expected " + std::to_string(expected_bytes) + " bytes of data for shape " +
                     shape_to_string(header.shape) + " '" + header.descr + "', file has " +
                     std::to_string(have));
    }
  }
  std::size_t trailing = 0;
  char scratch[4096];
  while (const std::size_t read = read_some(in, scratch, sizeof scratch, path)) trailing += read;
  if (trailing > 0) {
    fail(path, std::to_string(trailing) + " bytes of trailing data after the " +
                   std::to_string(expected_bytes) + " bytes of array data for shape " +
                   shape_to_string(header.shape) + " '" + header.descr +
                   "' (expected the file to end with the array)");
  }

  const std::size_t count = expected_bytes / item_bytes;
  if (!host_is_little_endian()) swap_bytes(bytes.data(), count, item_bytes);
  NpyArray array;
  array.shape = header.shape;
  array.dtype = header.descr;
  array.data.resize(count);
  if (item_bytes == sizeof(double)) {
    // Not for an empty array: both pointers may be null then, and memcpy(null, null, 0) is
    // undefined behaviour (found by tests/fuzz, regressions/npy_reader/empty_0x3.npy).
    if (expected_bytes > 0) std::memcpy(array.data.data(), bytes.data(), expected_bytes);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      float value;
      std::memcpy(&value, bytes.data() + i * sizeof(float), sizeof value);
      array.data[i] = static_cast<double>(value);  // exact: every float is a double
    }
  }
  return array;
}

namespace {

// The checks and the bytes of write_npy: the non-finite check runs now, before any file is
// opened; the returned writer produces header and data.
std::function<void(std::ostream&)> npy_writer(const std::string& path, const double* data,
                                              const std::vector<int64_t>& shape,
                                              NonFinite non_finite) {
  for (const int64_t extent : shape) {
    if (extent < 0) {
      throw std::invalid_argument("write_npy('" + path + "'): negative extent in shape " +
                                  shape_to_string(shape));
    }
  }
  const auto count = static_cast<std::size_t>(element_count(shape));
  if (non_finite == NonFinite::kRefuse) refuse_non_finite(path, data, count, shape);
  return [header = wrap_header(header_dict_for(shape)), data, count](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    write_doubles(out, data, count);
  };
}

}  // namespace

namespace {

// Header and little-endian bytes of an integer array (uint8: '|u1', int32: '<i4').
template <typename T>
std::function<void(std::ostream&)> integer_npy_writer(const std::string& path, const T* data,
                                                      const std::vector<int64_t>& shape,
                                                      const std::string& descr) {
  for (const int64_t extent : shape) {
    if (extent < 0) {
      throw std::invalid_argument("write_npy('" + path + "'): negative extent in shape " +
                                  shape_to_string(shape));
    }
  }
  const auto count = static_cast<std::size_t>(element_count(shape));
  return [header = wrap_header(header_dict_for(shape, descr)), data, count](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (sizeof(T) == 1 || host_is_little_endian()) {
      out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
      return;
    }
    for (std::size_t i = 0; i < count; ++i) {
      char bytes[sizeof(T)];
      std::memcpy(bytes, data + i, sizeof bytes);
      swap_bytes(bytes, 1, sizeof bytes);
      out.write(bytes, sizeof bytes);
    }
  };
}

}  // namespace

void write_npy(StagedOutputs& outputs, const std::string& path, const uint8_t* data,
               const std::vector<int64_t>& shape) {
  outputs.write(path, integer_npy_writer(path, data, shape, "|u1"));
}

void write_npy(StagedOutputs& outputs, const std::string& path, const int32_t* data,
               const std::vector<int64_t>& shape) {
  outputs.write(path, integer_npy_writer(path, data, shape, "<i4"));
}

void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape,
               NonFinite non_finite) {
  write_file_atomically(path, npy_writer(path, data, shape, non_finite));
}

void write_npy(StagedOutputs& outputs, const std::string& path, const double* data,
               const std::vector<int64_t>& shape, NonFinite non_finite) {
  outputs.write(path, npy_writer(path, data, shape, non_finite));
}

void write_npy_matrix(const std::string& path, const Eigen::Ref<const RowMajorMatrixXd>& m,
                      NonFinite non_finite) {
  const std::vector<int64_t> shape = {m.rows(), m.cols()};
  if (non_finite == NonFinite::kRefuse) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      for (Eigen::Index j = 0; j < m.cols(); ++j) {
        if (!std::isfinite(m(i, j))) {
          throw_non_finite(path, "element [" + std::to_string(i) + ", " + std::to_string(j) + "]",
                           m(i, j));
        }
      }
    }
  }
  const std::string header = wrap_header(header_dict_for(shape));
  // A Ref may be a block with an outer stride: write row by row, each row contiguous.
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      write_doubles(out, m.row(i).data(), static_cast<std::size_t>(m.cols()));
    }
  });
}

void write_npy_vector(const std::string& path, const Eigen::Ref<const Eigen::VectorXd>& v,
                      NonFinite non_finite) {
  write_npy(path, v.data(), {v.size()}, non_finite);
}

std::string describe_shape_spec(const ShapeSpec& spec) {
  std::string names = "(";
  std::string extents = "(";
  for (std::size_t d = 0; d < spec.extents.size(); ++d) {
    if (d > 0) {
      names += ", ";
      extents += ", ";
    }
    names += d < spec.names.size() ? spec.names[d] : "?";
    extents += spec.extents[d] == kAnyExtent ? "any" : std::to_string(spec.extents[d]);
  }
  if (spec.extents.size() == 1) {
    names += ",";
    extents += ",";
  }
  return names + ") = " + extents + ")";
}

void require_shape(const NpyArray& array, const std::string& path, const std::string& what,
                   const ShapeSpec& expected) {
  require_one_of_shapes(array, path, what, {expected});
}

void require_one_of_shapes(const NpyArray& array, const std::string& path, const std::string& what,
                           const std::vector<ShapeSpec>& allowed) {
  std::string expected;
  for (std::size_t k = 0; k < allowed.size(); ++k) {
    if (shape_matches(array.shape, allowed[k])) return;
    if (k > 0) expected += " or ";
    expected += describe_shape_spec(allowed[k]);
  }
  fail(path, what + ": expected shape " + expected + ", got " + shape_to_string(array.shape));
}

void require_finite(const NpyArray& array, const std::string& path, const std::string& what) {
  for (std::size_t i = 0; i < array.data.size(); ++i) {
    const double value = array.data[i];
    if (std::isfinite(value)) continue;
    const std::string kind = std::isnan(value) ? "NaN" : (value > 0 ? "inf" : "-inf");
    const std::string where =
        array.shape.empty()
            ? what
            : what + " element " + index_to_string(array.shape, static_cast<int64_t>(i));
    fail(path, where + " is " + kind);
  }
}

}  // namespace xbar::engine::io
