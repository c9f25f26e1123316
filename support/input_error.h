// xbar::InputError — the one exception type for bad input or configuration.
//
// Thrown wherever data crosses into xbar (files, INI keys, flags, netlists, arrays) and
// is wrong; the message already says where (file:line, key) and what was expected, so the
// CLI prints it verbatim and exits non-zero. It lives in support/, below every other folder,
// so that each of them may include it without a dependency pointing up (ARCHITECTURE.md).
#pragma once

#include <stdexcept>
#include <string>

namespace xbar {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// A numerical failure that is about the data, not about the code (singular system, a
// solver that did not converge). Carries a message naming the node or element.
class NumericalError : public std::runtime_error {
 public:
  explicit NumericalError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace xbar
