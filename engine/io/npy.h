// NumPy .npy files: the exchange format for every matrix and vector (DESIGN.md, "Files").
//
// Usage:
//   NpyArray g = read_npy(g_path);                                // float64 or float32 on disk
//   require_shape(g, g_path, "conductance matrix", {{"M", "N"}, {rows, cols}});
//   require_finite(g, g_path, "conductance matrix");
//   ...
//   write_npy(out_dir + "/currents.npy", currents.data(), {k, n});
//
// Contract:
//   - read_npy accepts format versions 1.0, 2.0 and 3.0, little-endian float64 ('<f8') and
//     float32 ('<f4', widened exactly to double), C order, any number of dimensions including
//     0-d scalars. Everything else is refused with xbar::InputError, message
//     "<path>: <what is wrong> (<what was expected>)"; nothing is silently converted.
//   - write_npy writes float64 '<f8', C order, format 1.0 (2.0 only if the header would not
//     fit), with the header laid out byte for byte as numpy.save does (padded with spaces so
//     that the data starts on a 64-byte boundary, ending in '\n'), via write_file_atomically.
//     It refuses NaN and infinities unless asked (NonFinite::kAllow): results never hold them.
//   - The format itself: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace xbar::engine::io {

class StagedOutputs;  // engine/io/atomic_file.h

struct NpyArray {
  std::vector<int64_t> shape;  // () for a 0-d scalar, (5,) for a vector, (M, N) for a matrix
  std::vector<double> data;    // C (row-major) order, element_count(shape) values
  std::string dtype;           // as stored in the file: "<f8" or "<f4"
};

// Product of the extents; 1 for the 0-d shape ().
int64_t element_count(const std::vector<int64_t>& shape);

// Python's repr of a shape tuple: "()", "(5,)", "(4, 5)". Used in every shape message.
std::string shape_to_string(const std::vector<int64_t>& shape);

// Reads an .npy file. Throws xbar::InputError "<path>: ..." on anything but a well-formed
// little-endian float64/float32 C-order file whose data size matches its shape exactly.
NpyArray read_npy(const std::string& path);

// The same from an open binary stream; `path` only labels the messages. This is the form the
// fuzz harness (tests/fuzz/) drives with in-memory bytes.
NpyArray read_npy(std::istream& in, const std::string& path);

// The shape and dtype of an .npy file from its header alone, the data unread: for the checks
// before a run (engine/commands/preflight.h). Throws xbar::InputError as read_npy does for
// anything wrong up to the end of the header, and, for a regular file, when its size does not
// match the shape (truncated, or trailing data).
struct NpyInfo {
  std::vector<int64_t> shape;
  std::string dtype;
};
NpyInfo read_npy_info(const std::string& path);

// What write_npy does with NaN and infinities. xbar's results never hold them: a numerical
// failure is reported (exit 4), never written out as NaN for the next step to read (issue 9).
// So the writer refuses them by default, before any byte is written, and only tests and format
// tools that must produce such files ask for kAllow.
enum class NonFinite { kRefuse, kAllow };

// Writes `element_count(shape)` doubles from `data` (C order) as a float64 .npy file.
// Throws xbar::InputError (from write_file_atomically) if the file cannot be written;
// xbar::NumericalError "refusing to write '<path>': element [i, j] is NaN ..." for a
// non-finite value under NonFinite::kRefuse (nothing written, a previous file untouched);
// std::invalid_argument for a negative extent (a programming error, not bad input).
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape,
               NonFinite non_finite = NonFinite::kRefuse);

// The same, staged as one of a run's outputs (engine/io/atomic_file.h): the bytes go to the
// temporary now, the file replaces `path` at outputs.commit().
void write_npy(StagedOutputs& outputs, const std::string& path, const double* data,
               const std::vector<int64_t>& shape, NonFinite non_finite = NonFinite::kRefuse);

// Integer arrays (status codes, counts): uint8 as '|u1' and int32 as '<i4', C order, with
// the header numpy.save writes for them; staged like the float64 writer. read_npy does not
// read them back (xbar takes only float inputs).
void write_npy(StagedOutputs& outputs, const std::string& path, const uint8_t* data,
               const std::vector<int64_t>& shape);
void write_npy(StagedOutputs& outputs, const std::string& path, const int32_t* data,
               const std::vector<int64_t>& shape);

using RowMajorMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Convenience: a matrix as shape (rows, cols). A column-major argument is copied by Ref.
void write_npy_matrix(const std::string& path, const Eigen::Ref<const RowMajorMatrixXd>& m,
                      NonFinite non_finite = NonFinite::kRefuse);
// Convenience: a vector as shape (n,).
void write_npy_vector(const std::string& path, const Eigen::Ref<const Eigen::VectorXd>& v,
                      NonFinite non_finite = NonFinite::kRefuse);

// Any extent is accepted in a dimension of ShapeSpec::extents that holds this value.
constexpr int64_t kAnyExtent = -1;

// One acceptable shape: names of the dimensions (for the message) and their extents.
struct ShapeSpec {
  std::vector<std::string> names;  // e.g. {"M", "N"}; same length as extents
  std::vector<int64_t> extents;    // e.g. {4, 5}, or {kAnyExtent, 5}
};

// "(M, N) = (4, 5)", "(K, M) = (any, 4)".
std::string describe_shape_spec(const ShapeSpec& spec);

// Throws xbar::InputError unless `array` has the shape `expected`:
//   "g.npy: conductance matrix: expected shape (M, N) = (4, 5), got (5, 4)".
void require_shape(const NpyArray& array, const std::string& path, const std::string& what,
                   const ShapeSpec& expected);

// Same, for inputs that may take several shapes (e.g. V.npy is (M,) or (K, M)):
//   "v.npy: input voltages: expected shape (M,) = (4,) or (K, M) = (any, 4), got (3, 5)".
void require_one_of_shapes(const NpyArray& array, const std::string& path, const std::string& what,
                           const std::vector<ShapeSpec>& allowed);

// Throws xbar::InputError at the first NaN or infinity, in shape coordinates:
//   "g.npy: conductance matrix element [1, 2] is NaN" ("... is inf", "... is -inf");
//   a 0-d array reads "g.npy: conductance matrix is NaN".
void require_finite(const NpyArray& array, const std::string& path, const std::string& what);

}  // namespace xbar::engine::io
