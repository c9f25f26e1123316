// Transparent huge pages for the PCG back end's large vectors.
//
//   Eigen::VectorXd v;
//   internal::resize_huge(v, n);   // v.resize(n) and ask for 2 MiB pages before the first touch
//
// The line solves stream through a dozen arrays of M*N doubles (134 MB each at 4096^2), so with
// 4 KiB pages the first touch of every array costs a page fault per 4 KiB (0.6 M faults, ~1.5 s
// of system time at 4096^2) and the column sweeps a TLB miss per row and array. On a kernel
// whose transparent huge pages are in "madvise" mode (Debian's default) madvise(MADV_HUGEPAGE)
// on the untouched range gets 2 MiB pages. Best effort: where it is refused (not Linux, THP
// off, memory reused from the heap) nothing changes but the speed.
#pragma once

#include <Eigen/Dense>
#include <cstddef>

namespace xbar::solvers::internal {

void advise_huge_pages(void* p, std::size_t bytes);

inline void resize_huge(Eigen::VectorXd& v, Eigen::Index n) {
  if (v.size() == n) return;
  v.resize(n);
  advise_huge_pages(v.data(), std::size_t(n) * sizeof(double));
}

}  // namespace xbar::solvers::internal
