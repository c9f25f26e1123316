// XBAR_EXPECTS: a programmer-error check that stays on in Release builds.
//
// STYLE.md: calling an API out of order (solve before factorize) is a programmer error and
// must say what to call first. A plain assert() vanishes under -DNDEBUG, which is how xbar is
// built and tested, so these cheap checks throw std::logic_error instead. Never used for bad
// input: that is xbar::InputError.
#pragma once

#include <stdexcept>
#include <string>

#define XBAR_EXPECTS(cond, message)                                   \
  do {                                                                \
    if (!(cond)) throw std::logic_error(std::string(message));        \
  } while (0)
