// The header of an .npy file: the Python dict literal numpy.save writes after the magic,
// version and length ("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 5), }" padded
// with spaces and '\n'), parsed by a small recursive-descent parser for the subset of Python
// literals it uses (strings, True/False/None, integers, tuples, lists, dicts). Internal to
// engine/io/npy.cc, which checks the fields against what it can read.
//
//   const internal::NpyHeader h = internal::parse_npy_header(header_text, "g.npy");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xbar::engine::io::internal {

constexpr char kExpectedDtypes[] = "expected float64 '<f8' or float32 '<f4'";

struct NpyHeader {
  std::string descr;            // e.g. "<f8", as written
  bool fortran_order = false;
  std::vector<int64_t> shape;   // () for a 0-d array
};

// The three keys of the dict, each required once and nothing else. Throws xbar::InputError
// "<path>: malformed npy header: <what> (expected a dict like {...})", or "<path>: structured
// dtype ... is not supported (...)" for a list-valued descr.
NpyHeader parse_npy_header(const std::string& text, const std::string& path);

}  // namespace xbar::engine::io::internal
