// read_npy / write_npy against the independent referee for the format: NumPy itself.
//
// NumPy writes fixtures (with their exact values as float.hex text) that read_npy must
// reproduce bit for bit, and loads what write_npy writes, checking shape, dtype, values,
// header layout and byte identity with numpy.save. Malformed files are crafted byte by byte.
// NumPy missing is a failure with instructions, not a skip: without it nothing here is
// refereed.
#include "engine/io/npy.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"
#include "support/input_error.h"

namespace fs = std::filesystem;
using xbar::engine::io::NpyArray;

namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::random_device device;
    path_ = fs::temp_directory_path() /
            ("xbar_npy_test_" + std::to_string(::getpid()) + "_" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The first interpreter that can import numpy: $XBAR_PYTHON, then python3 on PATH, then the
// system one (a pyenv python3 on PATH may lack the Debian python3-numpy package).
std::string find_numpy_python() {
  std::vector<std::string> candidates;
  if (const char* configured = std::getenv("XBAR_PYTHON")) candidates.push_back(configured);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& candidate : candidates) {
    const std::string probe = shell_quote(candidate) + " -c 'import numpy' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return candidate;
  }
  return "";
}

// Runs `script` with numpy's python and `argument`; REQUIREs that numpy exists and the
// script succeeded (its assertion messages go to stderr, next to doctest's report).
void run_numpy_script(const ScratchDir& dir, const std::string& script,
                      const std::string& argument) {
  const std::string python = find_numpy_python();
  REQUIRE_MESSAGE(!python.empty(),
                  "NumPy is the referee for the .npy format and was not found: install it "
                  "(apt-get install python3-numpy) or point XBAR_PYTHON at a python with numpy");
  const std::string script_path = dir.file("referee.py");
  std::ofstream(script_path) << script;
  const std::string command =
      shell_quote(python) + " " + shell_quote(script_path) + " " + shell_quote(argument);
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0,
                  std::string("numpy referee failed: " + command));
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string input_error_message(const std::string& path) {
  try {
    xbar::engine::io::read_npy(path);
  } catch (const xbar::InputError& error) {
    return error.what();
  }
  return "(no InputError)";
}

// An .npy file with the given version and header dict, padded as numpy pads, then `data`.
std::string craft_npy(int major, int minor, const std::string& dict, const std::string& data) {
  const std::size_t length_field_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((6 + 2 + length_field_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  for (std::size_t i = 0; i < length_field_bytes; ++i) {
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  }
  return out + header + data;
}

// `values` as little-endian float64 bytes (the tests run on little-endian hosts; read_npy
// byte-swaps on others, and these fixtures would then need the same).
std::string f8_bytes(const std::vector<double>& values) {
  std::string out(values.size() * sizeof(double), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string f8_dict(const std::string& shape) {
  return "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
}

uint64_t bits_of(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Same value bit for bit (so -0.0 differs from 0.0), any NaN equal to any NaN.
bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || bits_of(a) == bits_of(b);
}

// Expectation file written next to each fixture: shape, values (float.hex), dtype.
struct Expected {
  std::vector<int64_t> shape;
  std::vector<double> values;
  std::string dtype;
};

Expected read_expected(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), std::string("missing expectation file " + path));
  Expected expected;
  std::string line;
  std::getline(in, line);
  std::istringstream shape_line(line);
  for (int64_t extent; shape_line >> extent;) expected.shape.push_back(extent);
  std::getline(in, line);
  std::istringstream value_line(line);
  for (std::string token; value_line >> token;) {
    expected.values.push_back(std::strtod(token.c_str(), nullptr));  // hex floats, inf, nan
  }
  std::getline(in, expected.dtype);
  return expected;
}

// Writes the expectation for an array we write, in the format read_expected reads.
void write_expected(const std::string& path, const std::vector<int64_t>& shape,
                    const std::vector<double>& values) {
  std::ofstream out(path);
  for (const int64_t extent : shape) out << extent << ' ';
  out << '\n';
  for (const double value : values) {
    char text[64];
    std::snprintf(text, sizeof text, "%a", value);  // exact; Python's float.fromhex reads it
    out << text << ' ';
  }
  out << "\n<f8\n";
}

constexpr char kNumpyWritesFixtures[] = R"PY(
import os, sys
import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(20240607)

def save(name, a, version=None):
    path = os.path.join(out, name + '.npy')
    if version is None:
        np.save(path, a)
    else:
        with open(path, 'wb') as f:
            np.lib.format.write_array(f, a, version=version)
    with open(path, 'rb') as f:
        assert np.lib.format.read_magic(f) == (version or (1, 0))
    flat = np.ascontiguousarray(a).ravel(order='C')
    with open(os.path.join(out, name + '.txt'), 'w') as f:
        f.write(' '.join(str(int(d)) for d in a.shape) + '\n')
        f.write(' '.join(float(x).hex() for x in flat) + '\n')
        f.write(a.dtype.str + '\n')

save('f8_1d', rng.standard_normal(5))
save('f8_2d', rng.standard_normal((4, 5)) * 1e-3)
save('f8_3d', rng.standard_normal((2, 3, 4)))
save('f8_scalar', np.array(1.0 / 3.0))
save('f8_empty_1d', np.zeros((0,)))
save('f8_empty_2d', np.zeros((3, 0)))
save('f8_special', np.array([np.inf, -np.inf, np.nan, -0.0, 5e-324, 1.7976931348623157e308]))
save('f8_strided_view', rng.standard_normal((3, 8))[:, ::2].T)
save('f8_large', rng.standard_normal((300, 257)))
save('f4_1d', rng.standard_normal(7).astype(np.float32))
save('f4_2d', rng.standard_normal((3, 4)).astype(np.float32))
save('f4_3d', rng.standard_normal((2, 2, 3)).astype(np.float32))
save('f4_scalar', np.array(0.1, dtype=np.float32))
save('f8_v2', rng.standard_normal((6, 7)), version=(2, 0))
save('f4_v2', rng.standard_normal((5,)).astype(np.float32), version=(2, 0))
save('f8_v3', rng.standard_normal((2, 3)), version=(3, 0))

# Files read_npy must refuse, as numpy really writes them.
np.save(os.path.join(out, 'fortran.npy'), np.asfortranarray(rng.standard_normal((3, 4))))
np.save(os.path.join(out, 'big_endian_f8.npy'), rng.standard_normal((2, 2)).astype('>f8'))
np.save(os.path.join(out, 'big_endian_f4.npy'), rng.standard_normal(3).astype('>f4'))
np.save(os.path.join(out, 'int64.npy'), np.arange(5, dtype='<i8'))
np.save(os.path.join(out, 'float16.npy'), np.zeros(3, dtype='<f2'))
np.save(os.path.join(out, 'complex.npy'), np.zeros(3, dtype='<c16'))
np.save(os.path.join(out, 'structured.npy'), np.zeros(3, dtype=[('a', '<f8'), ('b', '<f8')]))
np.savez(os.path.join(out, 'archive.npz'), g=np.zeros(3))
)PY";

constexpr char kNumpyChecksOurFiles[] = R"PY(
import glob, io, os, sys
import numpy as np

out = sys.argv[1]
# numpy >= 1.23 pads the header for in-place growth of the first axis; we copy that layout.
numpy_pads_for_growth = tuple(int(p) for p in np.__version__.split('.')[:2]) >= (1, 23)
checked = 0
for expectation in sorted(glob.glob(os.path.join(out, '*.txt'))):
    path = expectation[:-4] + '.npy'
    with open(expectation) as f:
        shape = tuple(int(t) for t in f.readline().split())
        values = np.array([float.fromhex(t) for t in f.readline().split()], dtype=np.float64)
    a = np.load(path)
    assert a.dtype == np.float64, (path, a.dtype)
    assert a.shape == shape, (path, a.shape, shape)
    assert a.flags.c_contiguous, path
    assert np.array_equal(a.reshape(-1).view(np.uint64), values.view(np.uint64)), path
    raw = open(path, 'rb').read()
    with open(path, 'rb') as f:
        assert np.lib.format.read_magic(f) == (1, 0), path
        header_shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
    assert header_shape == shape and not fortran_order and dtype == np.float64, path
    assert offset % 64 == 0, (path, offset)
    assert raw[offset - 1:offset] == b'\n', path
    assert len(raw) == offset + a.nbytes, (path, len(raw), offset, a.nbytes)
    if numpy_pads_for_growth:
        reference = io.BytesIO()
        np.save(reference, a)
        assert reference.getvalue() == raw, (path, reference.getvalue()[:offset], raw[:offset])
    checked += 1
assert checked > 0, 'no files to check'
)PY";

std::vector<double> pseudo_random_values(std::size_t count, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1e-3);
  std::vector<double> values(count);
  for (double& value : values) value = normal(engine);
  return values;
}

}  // namespace

TEST_CASE("NumPy is available as the referee for the .npy format") {
  CHECK_MESSAGE(!find_numpy_python().empty(),
                "install python3-numpy (apt-get install python3-numpy) or set XBAR_PYTHON");
}

TEST_CASE("read_npy reads every file NumPy writes, value for value") {
  ScratchDir dir;
  run_numpy_script(dir, kNumpyWritesFixtures, dir.str());
  const std::vector<std::string> cases = {
      "f8_1d",      "f8_2d",           "f8_3d",    "f8_scalar", "f8_empty_1d", "f8_empty_2d",
      "f8_special", "f8_strided_view", "f8_large", "f4_1d",     "f4_2d",       "f4_3d",
      "f4_scalar",  "f8_v2",           "f4_v2",    "f8_v3"};
  for (const auto& name : cases) {
    CAPTURE(name);
    const Expected expected = read_expected(dir.file(name + ".txt"));
    const NpyArray array = xbar::engine::io::read_npy(dir.file(name + ".npy"));
    CHECK(array.shape == expected.shape);
    CHECK(array.dtype == expected.dtype);
    REQUIRE(array.data.size() == expected.values.size());
    REQUIRE(static_cast<int64_t>(array.data.size()) == xbar::engine::io::element_count(array.shape));
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < array.data.size(); ++i) {
      if (!same_value(array.data[i], expected.values[i])) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("read_npy refuses the unsupported layouts and dtypes NumPy writes") {
  ScratchDir dir;
  run_numpy_script(dir, kNumpyWritesFixtures, dir.str());
  const auto message_for = [&](const std::string& name) {
    return input_error_message(dir.file(name));
  };
  const std::string expected_dtypes = " is not supported (expected float64 '<f8' or float32 '<f4')";

  CHECK(message_for("fortran.npy") == dir.file("fortran.npy") +
                                          ": Fortran order is not supported; save with "
                                          "np.ascontiguousarray");
  CHECK(message_for("big_endian_f8.npy") == dir.file("big_endian_f8.npy") +
                                                ": big-endian dtype '>f8'" + expected_dtypes +
                                                "; save with a.astype('<f8')");
  CHECK(message_for("big_endian_f4.npy") == dir.file("big_endian_f4.npy") +
                                                ": big-endian dtype '>f4'" + expected_dtypes +
                                                "; save with a.astype('<f4')");
  CHECK(message_for("int64.npy") == dir.file("int64.npy") + ": dtype '<i8'" + expected_dtypes);
  CHECK(message_for("float16.npy") == dir.file("float16.npy") + ": dtype '<f2'" + expected_dtypes);
  CHECK(message_for("complex.npy") == dir.file("complex.npy") + ": dtype '<c16'" + expected_dtypes);
  CHECK(message_for("structured.npy") == dir.file("structured.npy") +
                                             ": structured dtype [('a', '<f8'), ('b', '<f8')]" +
                                             expected_dtypes);
  CHECK(message_for("archive.npz").rfind(dir.file("archive.npz") + ": not an npy file", 0) == 0);
}

TEST_CASE("write_npy writes files NumPy loads with the same shape, dtype and bits") {
  ScratchDir dir;
  struct Case {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<double> values;
  };
  const double nan = std::nan("");
  const double inf = HUGE_VAL;
  std::vector<Case> cases = {
      {"vector", {5}, {0.1, -2.5, 1.0 / 3.0, 1e-300, -0.0}},
      {"matrix", {4, 5}, {}},
      {"tensor", {2, 3, 4}, {}},
      {"scalar", {}, {3.75}},
      {"empty_1d", {0}, {}},
      {"empty_rows", {0, 3}, {}},
      {"empty_cols", {2, 0}, {}},
      {"special", {2, 3}, {inf, -inf, nan, -0.0, 5e-324, 1.7976931348623157e308}},
      {"large", {123, 77}, pseudo_random_values(123 * 77, 7)},
      // A first axis with many digits: the header's growth padding shrinks to match.
      {"wide_first_axis", {1000000000000, 0}, {}},
      // Header text that lands exactly on a 64-byte boundary: numpy then pads a full 64.
      {"aligned_header", {0, 10, 100, 100, 100, 100, 100, 1, 1, 1, 1}, {}},
  };
  for (auto& c : cases) {
    if (c.values.empty()) {
      c.values.resize(static_cast<std::size_t>(xbar::engine::io::element_count(c.shape)));
      for (std::size_t i = 0; i < c.values.size(); ++i) c.values[i] = 0.25 + 10.0 * i;
    }
    REQUIRE(static_cast<int64_t>(c.values.size()) == xbar::engine::io::element_count(c.shape));
    // kAllow: the format writer must be able to produce every float64 NumPy can (the
    // "special" case); results refuse non-finite values (tested below).
    xbar::engine::io::write_npy(dir.file(c.name + ".npy"), c.values.data(), c.shape,
                            xbar::engine::io::NonFinite::kAllow);
    write_expected(dir.file(c.name + ".txt"), c.shape, c.values);
  }
  run_numpy_script(dir, kNumpyChecksOurFiles, dir.str());
}

TEST_CASE("the Eigen helpers write matrices and vectors NumPy loads in C order") {
  ScratchDir dir;
  // Column-major storage and a strided block must both come out in row-major (C) order.
  Eigen::MatrixXd column_major(3, 4);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) column_major(i, j) = 10.0 * i + j;
  }
  xbar::engine::io::write_npy_matrix(dir.file("column_major.npy"), column_major);
  xbar::engine::io::RowMajorMatrixXd row_major = column_major;
  xbar::engine::io::write_npy_matrix(dir.file("block.npy"), row_major.block(1, 1, 2, 2));
  const Eigen::VectorXd vector = Eigen::VectorXd::LinSpaced(6, -1.0, 1.5);
  xbar::engine::io::write_npy_vector(dir.file("vector.npy"), vector);

  write_expected(dir.file("column_major.txt"), {3, 4},
                 {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  write_expected(dir.file("block.txt"), {2, 2}, {11, 12, 21, 22});
  write_expected(dir.file("vector.txt"), {6}, {vector.data(), vector.data() + vector.size()});
  run_numpy_script(dir, kNumpyChecksOurFiles, dir.str());

  const NpyArray block = xbar::engine::io::read_npy(dir.file("block.npy"));
  CHECK(block.shape == std::vector<int64_t>{2, 2});
  CHECK(block.data == std::vector<double>{11, 12, 21, 22});
}

// NumPy loads the integer arrays with their dtype and values, byte for byte as numpy.save.
constexpr char kNumpyChecksIntegerFiles[] = R"PY(
import io, os, sys
import numpy as np

out = sys.argv[1]
numpy_pads_for_growth = tuple(int(p) for p in np.__version__.split('.')[:2]) >= (1, 23)
expected = {
    'u8.npy': np.array([[0, 1, 2, 255], [7, 3, 254, 9], [128, 0, 0, 1]], dtype=np.uint8).reshape(3, 4),
    'u8_3d.npy': (np.arange(2 * 3 * 5) % 4).astype(np.uint8).reshape(2, 3, 5),
    'i4.npy': np.array([0, -1, 2147483647, -2147483648, 1234, 3000], dtype=np.int32).reshape(2, 3),
    'i4_empty.npy': np.zeros((0, 4), dtype=np.int32),
}
for name, want in expected.items():
    path = os.path.join(out, name)
    a = np.load(path)
    assert a.dtype == want.dtype, (name, a.dtype)
    assert a.shape == want.shape, (name, a.shape)
    assert np.array_equal(a, want), (name, a)
    if numpy_pads_for_growth:
        reference = io.BytesIO()
        np.save(reference, want)
        assert reference.getvalue() == open(path, 'rb').read(), name
)PY";

TEST_CASE("the integer writers give uint8 and int32 files NumPy loads with their dtype and values") {
  ScratchDir dir;
  xbar::engine::io::StagedOutputs outputs;
  const std::vector<uint8_t> u8 = {0, 1, 2, 255, 7, 3, 254, 9, 128, 0, 0, 1};
  std::vector<uint8_t> u8_3d(30);
  for (size_t k = 0; k < u8_3d.size(); ++k) u8_3d[k] = uint8_t(k % 4);
  const std::vector<int32_t> i4 = {0, -1, 2147483647, -2147483647 - 1, 1234, 3000};
  xbar::engine::io::write_npy(outputs, dir.file("u8.npy"), u8.data(), {3, 4});
  xbar::engine::io::write_npy(outputs, dir.file("u8_3d.npy"), u8_3d.data(), {2, 3, 5});
  xbar::engine::io::write_npy(outputs, dir.file("i4.npy"), i4.data(), {2, 3});
  xbar::engine::io::write_npy(outputs, dir.file("i4_empty.npy"), i4.data(), {0, 4});
  outputs.commit();
  run_numpy_script(dir, kNumpyChecksIntegerFiles, dir.str());
}

TEST_CASE("write_npy then read_npy gives back the same bits") {
  ScratchDir dir;
  const std::vector<int64_t> shape = {2, 64, 129};  // voltages.npy layout: 2 x M x N
  const std::vector<double> values = pseudo_random_values(2 * 64 * 129, 11);
  const std::string path = dir.file("voltages.npy");
  xbar::engine::io::write_npy(path, values.data(), shape);
  const NpyArray array = xbar::engine::io::read_npy(path);
  CHECK(array.shape == shape);
  CHECK(array.dtype == "<f8");
  CHECK(array.data == values);
  // 64-byte aligned header followed by exactly the data: nothing else in the file.
  CHECK(fs::file_size(path) == 128 + values.size() * sizeof(double));
}

TEST_CASE("write_npy into a missing directory names the path and the OS error") {
  ScratchDir dir;
  const std::string path = dir.file("missing/currents.npy");
  const double value = 1.0;
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_npy(path, &value, {1}),
                       ("cannot write '" + path + "': No such file or directory").c_str(),
                       xbar::InputError);
}

TEST_CASE("write_npy refuses NaN and infinities by default, names the element, writes nothing") {
  // Issue 9: a numerical failure is reported, never written out as NaN for the next step.
  ScratchDir dir;
  const std::string path = dir.file("currents.npy");
  const std::vector<double> previous = {1.0, 2.0};
  xbar::engine::io::write_npy(path, previous.data(), {2});
  std::vector<double> values = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
  values[4] = std::nan("");
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_npy(path, values.data(), {2, 3}),
                       ("refusing to write '" + path +
                        "': element [1, 1] is NaN (a numerical failure upstream; results never "
                        "hold NaN or infinities)")
                           .c_str(),
                       xbar::NumericalError);
  values[4] = -HUGE_VAL;
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_npy_vector(
                           path, Eigen::Map<const Eigen::VectorXd>(values.data(), 6)),
                       doctest::Contains("element [4] is -inf"), xbar::NumericalError);
  xbar::engine::io::RowMajorMatrixXd m = xbar::engine::io::RowMajorMatrixXd::Ones(3, 2);
  m(2, 1) = HUGE_VAL;
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_npy_matrix(path, m),
                       doctest::Contains("element [2, 1] is inf"), xbar::NumericalError);
  const double scalar = std::nan("");
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_npy(path, &scalar, {}),
                       doctest::Contains("the value is NaN"), xbar::NumericalError);
  // The previous file is untouched and no temporary is left next to it.
  CHECK(xbar::engine::io::read_npy(path).data == previous);
  CHECK(std::distance(fs::directory_iterator(dir.str()), fs::directory_iterator()) == 1);
}

TEST_CASE("read_npy accepts header variants other writers produce") {
  ScratchDir dir;
  const std::string data = f8_bytes({1.5, -2.0, 0.25, 8.0, 3.0, 7.0});

  // Keys in another order, double quotes, no trailing comma, Python 2 long suffixes.
  write_bytes(
      dir.file("variant.npy"),
      craft_npy(1, 0, "{\"shape\": (2L, 3L), \"descr\": \"<f8\", \"fortran_order\": False}", data));
  NpyArray array = xbar::engine::io::read_npy(dir.file("variant.npy"));
  CHECK(array.shape == std::vector<int64_t>{2, 3});
  CHECK(array.data == std::vector<double>{1.5, -2.0, 0.25, 8.0, 3.0, 7.0});

  // fortran_order True is the same bytes for a 1-D array, so it is accepted there.
  write_bytes(dir.file("fortran_1d.npy"),
              craft_npy(1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (6,), }", data));
  CHECK(xbar::engine::io::read_npy(dir.file("fortran_1d.npy")).shape == std::vector<int64_t>{6});

  // A header longer than 65535 bytes needs version 2.0's 32-bit length field.
  const std::string long_dict = f8_dict("(6,)") + std::string(70000, ' ');
  write_bytes(dir.file("long_header.npy"), craft_npy(2, 0, long_dict, data));
  array = xbar::engine::io::read_npy(dir.file("long_header.npy"));
  CHECK(array.shape == std::vector<int64_t>{6});
  CHECK(array.data[5] == 7.0);
}

TEST_CASE("read_npy explains each way a file can be broken") {
  ScratchDir dir;
  const auto message_for = [&](const std::string& name, const std::string& bytes) {
    write_bytes(dir.file(name), bytes);
    return input_error_message(dir.file(name));
  };
  const auto starts_with = [](const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
  };
  const std::string twenty = f8_bytes(std::vector<double>(20, 1.0));
  const std::string p = dir.str() + "/";

  SUBCASE("a missing file") {
    CHECK(input_error_message(p + "absent.npy") ==
          p + "absent.npy: cannot open for reading: No such file or directory");
  }
  SUBCASE("not an npy file") {
    const std::string expected =
        ": not an npy file (it does not start with \"\\x93NUMPY\"; expected a file written by "
        "numpy.save)";
    CHECK(message_for("empty.npy", "") == p + "empty.npy" + expected);
    CHECK(message_for("text.npy", "1.0, 2.0, 3.0\n") == p + "text.npy" + expected);
  }
  SUBCASE("an unsupported format version") {
    CHECK(message_for("v4.npy", craft_npy(4, 0, f8_dict("(20,)"), twenty)) ==
          p + "v4.npy: unsupported npy format version 4.0 (expected 1.0, 2.0 or 3.0)");
    CHECK(message_for("v1_1.npy", craft_npy(1, 1, f8_dict("(20,)"), twenty)) ==
          p + "v1_1.npy: unsupported npy format version 1.1 (expected 1.0, 2.0 or 3.0)");
  }
  SUBCASE("a header cut short") {
    const std::string whole = craft_npy(1, 0, f8_dict("(20,)"), "");
    CHECK(starts_with(message_for("cut.npy", whole.substr(0, 40)),
                      p + "cut.npy: truncated npy header (header length 118 bytes, file has 30)"));
    CHECK(starts_with(message_for("cut_length.npy", whole.substr(0, 9)),
                      p + "cut_length.npy: truncated npy header"));
  }
  SUBCASE("a malformed header dict") {
    const std::string expected_dict =
        " (expected a dict like {'descr': '<f8', 'fortran_order': False, 'shape': (4, 5)})";
    const std::string malformed = ": malformed npy header: ";
    CHECK(message_for("list.npy", craft_npy(1, 0, "['descr', '<f8']", twenty)) ==
          p + "list.npy" + malformed + "the header does not start with '{'" + expected_dict);
    CHECK(message_for("no_shape.npy",
                      craft_npy(1, 0, "{'descr': '<f8', 'fortran_order': False}", twenty)) ==
          p + "no_shape.npy" + malformed + "missing key 'shape'" + expected_dict);
    CHECK(message_for("extra_key.npy",
                      craft_npy(1, 0,
                                "{'descr': '<f8', 'fortran_order': False, 'shape': (20,), "
                                "'units': 'S'}",
                                twenty)) ==
          p + "extra_key.npy" + malformed + "unexpected key 'units'" + expected_dict);
    CHECK(message_for("negative.npy", craft_npy(1, 0, f8_dict("(4, -5)"), twenty)) ==
          p + "negative.npy" + malformed +
              "'shape' must be a tuple of non-negative integers, got (4, -5)" + expected_dict);
    CHECK(message_for("not_tuple.npy", craft_npy(1, 0, f8_dict("(20)"), twenty)) ==
          p + "not_tuple.npy" + malformed +
              "'shape' must be a tuple of non-negative integers, got (20)" + expected_dict);
    CHECK(message_for(
              "bad_bool.npy",
              craft_npy(1, 0, "{'descr': '<f8', 'fortran_order': 0, 'shape': (20,)}", twenty)) ==
          p + "bad_bool.npy" + malformed + "'fortran_order' must be True or False, got 0" +
              expected_dict);
    CHECK(starts_with(message_for("unterminated.npy", craft_npy(1, 0, "{'descr: '<f8", twenty)),
                      p + "unterminated.npy" + malformed));
    CHECK(starts_with(message_for("after.npy", craft_npy(1, 0, f8_dict("(20,)") + " x", twenty)),
                      p + "after.npy" + malformed + "unexpected text after the dict"));
    CHECK(starts_with(
        message_for("huge.npy", craft_npy(1, 0, f8_dict("(99999999999999999999,)"), twenty)),
        p + "huge.npy" + malformed + "integer out of range"));
  }
  SUBCASE("Fortran order") {
    CHECK(message_for("fortran.npy",
                      craft_npy(1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (4, 5), }",
                                twenty)) ==
          p + "fortran.npy: Fortran order is not supported; save with np.ascontiguousarray");
  }
  SUBCASE("unsupported dtypes") {
    CHECK(message_for("be.npy",
                      craft_npy(1, 0, "{'descr': '>f8', 'fortran_order': False, 'shape': (20,), }",
                                twenty)) ==
          p + "be.npy: big-endian dtype '>f8' is not supported (expected float64 '<f8' or "
              "float32 '<f4'); save with a.astype('<f8')");
    CHECK(message_for("i8.npy",
                      craft_npy(1, 0, "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }",
                                twenty)) ==
          p + "i8.npy: dtype '<i8' is not supported (expected float64 '<f8' or float32 '<f4')");
  }
  SUBCASE("data shorter or longer than the shape says") {
    CHECK(message_for("short.npy", craft_npy(1, 0, f8_dict("(4, 5)"), twenty.substr(0, 80))) ==
          p + "short.npy: expected 160 bytes of data for shape (4, 5) '<f8', file has 80");
    CHECK(message_for("short_f4.npy",
                      craft_npy(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
                                std::string(5, '\0'))) ==
          p + "short_f4.npy: expected 12 bytes of data for shape (3,) '<f4', file has 5");
    CHECK(message_for("long.npy", craft_npy(1, 0, f8_dict("(4, 5)"), twenty + "garbage!")) ==
          p + "long.npy: 8 bytes of trailing data after the 160 bytes of array data for shape "
              "(4, 5) '<f8' (expected the file to end with the array)");
  }
}

TEST_CASE("require_finite names the first bad element in shape coordinates") {
  const double nan = std::nan("");
  NpyArray matrix{{3, 4}, std::vector<double>(12, 1e-6), "<f8"};
  CHECK_NOTHROW(xbar::engine::io::require_finite(matrix, "g.npy", "conductance matrix"));
  matrix.data[1 * 4 + 2] = nan;
  matrix.data[2 * 4 + 3] = HUGE_VAL;
  CHECK_THROWS_WITH_AS(xbar::engine::io::require_finite(matrix, "g.npy", "conductance matrix"),
                       "g.npy: conductance matrix element [1, 2] is NaN", xbar::InputError);

  const NpyArray vector{{5}, {0, 0, 0, HUGE_VAL, 0}, "<f8"};
  CHECK_THROWS_WITH_AS(xbar::engine::io::require_finite(vector, "v.npy", "input voltage"),
                       "v.npy: input voltage element [3] is inf", xbar::InputError);

  const NpyArray tensor{{2, 2, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -HUGE_VAL, 0}, "<f8"};
  CHECK_THROWS_WITH_AS(xbar::engine::io::require_finite(tensor, "t.npy", "voltages"),
                       "t.npy: voltages element [1, 1, 1] is -inf", xbar::InputError);

  const NpyArray scalar{{}, {nan}, "<f8"};
  CHECK_THROWS_WITH_AS(xbar::engine::io::require_finite(scalar, "s.npy", "read voltage"),
                       "s.npy: read voltage is NaN", xbar::InputError);
}

TEST_CASE("require_shape says which shape was expected and which was found") {
  using xbar::engine::io::kAnyExtent;
  const NpyArray g{{5, 4}, std::vector<double>(20, 0.0), "<f8"};
  CHECK_NOTHROW(
      xbar::engine::io::require_shape(g, "g.npy", "conductance matrix", {{"M", "N"}, {5, 4}}));
  CHECK_NOTHROW(
      xbar::engine::io::require_shape(g, "g.npy", "conductance matrix", {{"M", "N"}, {kAnyExtent, 4}}));
  CHECK_THROWS_WITH_AS(
      xbar::engine::io::require_shape(g, "g.npy", "conductance matrix", {{"M", "N"}, {4, 5}}),
      "g.npy: conductance matrix: expected shape (M, N) = (4, 5), got (5, 4)", xbar::InputError);

  const std::vector<xbar::engine::io::ShapeSpec> voltage_shapes = {{{"M"}, {4}},
                                                               {{"K", "M"}, {kAnyExtent, 4}}};
  const NpyArray one_vector{{4}, std::vector<double>(4, 0.0), "<f8"};
  const NpyArray batch{{7, 4}, std::vector<double>(28, 0.0), "<f8"};
  const NpyArray wrong{{3, 5}, std::vector<double>(15, 0.0), "<f8"};
  CHECK_NOTHROW(
      xbar::engine::io::require_one_of_shapes(one_vector, "v.npy", "input voltages", voltage_shapes));
  CHECK_NOTHROW(
      xbar::engine::io::require_one_of_shapes(batch, "v.npy", "input voltages", voltage_shapes));
  CHECK_THROWS_WITH_AS(
      xbar::engine::io::require_one_of_shapes(wrong, "v.npy", "input voltages", voltage_shapes),
      "v.npy: input voltages: expected shape (M,) = (4,) or (K, M) = (any, 4), got (3, 5)",
      xbar::InputError);
  CHECK(xbar::engine::io::shape_to_string({}) == "()");
  CHECK(xbar::engine::io::shape_to_string({5}) == "(5,)");
}
