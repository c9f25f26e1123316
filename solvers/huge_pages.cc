#include "solvers/huge_pages.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace xbar::solvers::internal {

namespace {
// Huge page size on x86-64 and arm64 Linux; ranges smaller than one gain nothing.
constexpr std::uintptr_t kHugePageBytes = std::uintptr_t(2) << 20;
}  // namespace

void advise_huge_pages(void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = (begin + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const std::uintptr_t hi = (begin + bytes) & ~(kHugePageBytes - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // best effort
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace xbar::solvers::internal
