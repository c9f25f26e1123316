// The forwarding definitions of solvers/lazy_libraries.h. Every CHOLMOD function xbar calls
// must be here: a missing one is a link error ("undefined reference to cholmod_l_..."), since
// the library itself is no longer linked.
#include "solvers/lazy_libraries.h"

#include <cblas.h>
#include <cholmod.h>
#include <dlfcn.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "solvers/library_threads.h"

#ifndef XBAR_CHOLMOD_SONAME
#error "XBAR_CHOLMOD_SONAME (the soname of Debian's libcholmod) must be defined by the build"
#endif
#ifndef XBAR_BLAS_SONAME
#error "XBAR_BLAS_SONAME (the soname of the BLAS alternative) must be defined by the build"
#endif

namespace xbar::solvers {
namespace {

std::atomic<bool> g_cholmod_loaded{false};

void* open_library(const char* soname, const char* package) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    const char* why = dlerror();
    throw std::runtime_error(std::string("cannot load ") + soname + " (" + (why ? why : "no reason given") +
                             "); it comes with the Debian package " + package +
                             " (scripts/setup.sh installs it)");
  }
  return handle;
}

void* blas_handle() {
  // A function-local static: initialized once, thread-safe, and the parking below runs
  // before any caller can reach OpenBLAS.
  static void* const handle = [] {
    void* h = open_library(XBAR_BLAS_SONAME, "libopenblas0-pthread (or libblas3)");
    blas_threads_loaded();
    return h;
  }();
  return handle;
}

void* cholmod_handle() {
  static void* const handle = [] {
    blas_handle();  // OpenBLAS first, so that its workers are parked before CHOLMOD starts
    void* h = open_library(XBAR_CHOLMOD_SONAME, "libcholmod3");
    g_cholmod_loaded = true;
    return h;
  }();
  return handle;
}

template <class Function>
Function lookup(void* handle, const char* name) {
  dlerror();  // clears an earlier error
  void* symbol = dlsym(handle, name);
  if (!symbol) {
    const char* why = dlerror();  // read once: a second call returns null
    throw std::runtime_error(std::string("symbol ") + name + " not found in its library: " + (why ? why : "?"));
  }
  return reinterpret_cast<Function>(symbol);
}

}  // namespace

void load_blas_library() { blas_handle(); }
void load_cholmod_library() { cholmod_handle(); }
bool cholmod_library_loaded() { return g_cholmod_loaded.load(); }

}  // namespace xbar::solvers

// One forwarding definition per function: the declaration in the library's header fixes the
// signature, `real` is looked up once (thread-safe static) on the first call.
#define XBAR_FORWARD(library, ret, name, params, args)                                          \
  extern "C" ret name params {                                                                \
    static const auto real = xbar::solvers::lookup<decltype(&name)>(xbar::solvers::library(), #name); \
    return real args;                                                                         \
  }

namespace xbar::solvers {
namespace {
void* cholmod() { return cholmod_handle(); }
void* blas() { return blas_handle(); }
}  // namespace
}  // namespace xbar::solvers

XBAR_FORWARD(cholmod, int, cholmod_l_start, (cholmod_common * c), (c))
XBAR_FORWARD(cholmod, int, cholmod_l_finish, (cholmod_common * c), (c))
XBAR_FORWARD(cholmod, cholmod_factor*, cholmod_l_analyze_p,
             (cholmod_sparse * a, SuiteSparse_long* perm, SuiteSparse_long* fset, size_t fsize, cholmod_common* c),
             (a, perm, fset, fsize, c))
XBAR_FORWARD(cholmod, int, cholmod_l_camd,
             (cholmod_sparse * a, SuiteSparse_long* fset, size_t fsize, SuiteSparse_long* cmember,
              SuiteSparse_long* perm, cholmod_common* c),
             (a, fset, fsize, cmember, perm, c))
XBAR_FORWARD(cholmod, int, cholmod_l_factorize, (cholmod_sparse * a, cholmod_factor* l, cholmod_common* c),
             (a, l, c))
XBAR_FORWARD(cholmod, cholmod_dense*, cholmod_l_solve,
             (int sys, cholmod_factor* l, cholmod_dense* b, cholmod_common* c), (sys, l, b, c))
XBAR_FORWARD(cholmod, int, cholmod_l_solve2,
             (int sys, cholmod_factor* l, cholmod_dense* b, cholmod_sparse* bset, cholmod_dense** x,
              cholmod_sparse** xset, cholmod_dense** y, cholmod_dense** e, cholmod_common* c),
             (sys, l, b, bset, x, xset, y, e, c))
XBAR_FORWARD(cholmod, int, cholmod_l_change_factor,
             (int to_xtype, int to_ll, int to_super, int to_packed, int to_monotonic, cholmod_factor* l,
              cholmod_common* c),
             (to_xtype, to_ll, to_super, to_packed, to_monotonic, l, c))
XBAR_FORWARD(cholmod, cholmod_factor*, cholmod_l_copy_factor, (cholmod_factor * l, cholmod_common* c), (l, c))
XBAR_FORWARD(cholmod, cholmod_dense*, cholmod_l_zeros, (size_t nrow, size_t ncol, int xtype, cholmod_common* c),
             (nrow, ncol, xtype, c))
XBAR_FORWARD(cholmod, int, cholmod_l_free_factor, (cholmod_factor * *l, cholmod_common* c), (l, c))
XBAR_FORWARD(cholmod, int, cholmod_l_free_dense, (cholmod_dense * *x, cholmod_common* c), (x, c))
XBAR_FORWARD(cholmod, int, cholmod_l_free_sparse, (cholmod_sparse * *a, cholmod_common* c), (a, c))
XBAR_FORWARD(blas, void, cblas_dgemm,
             (CBLAS_LAYOUT layout, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, const CBLAS_INT m, const CBLAS_INT n,
              const CBLAS_INT k, const double alpha, const double* a, const CBLAS_INT lda, const double* b,
              const CBLAS_INT ldb, const double beta, double* c, const CBLAS_INT ldc),
             (layout, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
