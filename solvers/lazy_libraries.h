// CHOLMOD and BLAS, loaded when first called (issue 21, point 5).
//
// Linked as shared libraries, CHOLMOD and the BLAS it brings (OpenBLAS, LAPACK, METIS,
// gfortran, quadmath: ~20,000 symbol relocations, 14,000 of them OpenBLAS's kernel tables)
// cost every xbar process ~3.5 ms of its start, measured as 3.3 ms CPU / 3.9 ms wall on an empty
// program linked against libcholmod alone (perf stat -r 60); `xbar --version` and a 64^2
// `xbar solve` (which factorizes with Eigen, solvers/eigen_backend.h) never use them.
//
// So neither is linked: lazy_libraries.cc defines the CHOLMOD functions xbar calls
// (cholmod_l_start, cholmod_l_analyze_p, ...) and cblas_dgemm, each forwarding to the real
// function, which the first call looks up after dlopen of libcholmod.so.3 / libblas.so.3
// (Debian's libcholmod3 and libblas3 alternative, OpenBLAS). The callers are unchanged. The
// libraries are opened RTLD_GLOBAL, so OpenBLAS's thread controls are then found by
// solvers/library_threads.h, which parks OpenBLAS's workers right after the load when the
// process asked for it (the xbar executable does, in main).
//
// A library that cannot be opened is an installation error: std::runtime_error naming it
// and the Debian package (xbar's `internal error`, exit 1).
#pragma once

namespace xbar::solvers {

// Opens libblas.so.3 if not yet open (and parks OpenBLAS's workers if the process asked for
// it, library_threads.h). Thread-safe; later calls cost an atomic load.
void load_blas_library();

// Opens libcholmod.so.3 (and libblas.so.3 first) if not yet open. Thread-safe.
void load_cholmod_library();

// True once load_cholmod_library() has run in this process (for tests of which subcommands
// load CHOLMOD).
bool cholmod_library_loaded();

}  // namespace xbar::solvers
