// The memory a new allocation can count on, for choosing between a factorization and an
// iterative route before committing to either.
#pragma once

namespace xbar::solvers {

// MemAvailable from /proc/meminfo in bytes; infinity when it cannot be read (not Linux).
double available_memory_bytes();

}  // namespace xbar::solvers
