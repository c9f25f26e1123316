// The technology INI file of `xbar ppa --technology FILE.ini` (issue 20): the figures of
// calib::Technology, one `key = value` line each, every key required.
//
//   calib::Technology tech = calib::read_technology_ini("my_process.ini");
//
// Format: `key = value` lines with the keys of technology_keys() (technology.h) and values in
// their SI units (a plain number: 25e-15, not 25f); comments from '#' or ';' (a whole line, or
// after whitespace); [sections] are allowed and ignored, as in the CLI's own INI files. The
// template calib/technology.ini holds the built-in defaults with their sources; copy it and
// change what your process differs in.
//
// Every key must be given, exactly once. A technology file is one complete description:
// a figure left out would silently take the built-in default, which describes a different
// process, and the result would mix the two without saying so. Unknown keys are refused too
// (a misspelt key would otherwise leave its figure at nothing).
//
// Errors (xbar::InputError, naming the file and, where there is one, the line and the key):
// unreadable file, a file above kMaxTechnologyFileBytes, a line without '=', an unknown key, a
// key given twice, a value that is not one finite number, a value out of its range
// (Technology::validate()), a missing key (all the missing ones named).
#pragma once

#include <cstdint>
#include <string>

#include "calib/technology.h"

namespace xbar::calib {

// A technology file is a dozen lines; anything above this is not one (and is not read into
// memory).
constexpr int64_t kMaxTechnologyFileBytes = 1 << 20;

Technology read_technology_ini(const std::string& path);

}  // namespace xbar::calib
