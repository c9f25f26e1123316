#include "solvers/linear_backend.h"

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/cholmod_backend.h"
#include "solvers/eigen_backend.h"
#include "solvers/klu_backend.h"
#include "solvers/pcg_backend.h"

namespace xbar::solvers {

std::string to_string(LinearBackendKind k) {
  switch (k) {
    case LinearBackendKind::kCholmod: return "cholmod";
    case LinearBackendKind::kKlu: return "klu";
    case LinearBackendKind::kPcg: return "pcg";
    case LinearBackendKind::kEigen: return "eigen";
  }
  return "?";
}

std::string to_string(Ordering o) {
  switch (o) {
    case Ordering::kAuto: return "auto";
    case Ordering::kGeometric: return "geometric";
    case Ordering::kAmd: return "amd";
    case Ordering::kMetis: return "metis";
    case Ordering::kNesdis: return "nesdis";
  }
  return "?";
}

Ordering parse_ordering(const std::string& s) {
  for (Ordering o : {Ordering::kAuto, Ordering::kGeometric, Ordering::kAmd, Ordering::kMetis,
                     Ordering::kNesdis})
    if (s == to_string(o)) return o;
  throw InputError("key ordering = '" + s + "': expected auto, geometric, amd, metis or nesdis");
}

void CoarseOptions::validate() const {
  if (!(spacing > 0 && spacing <= 1e3))
    throw InputError("key coarse-spacing = " + format_number(spacing) + ": must be in (0, 1000] "
                     "(coarse grid spacing in units of the line coupling length 1/sqrt(g R))");
  if (max_unknowns < 8)
    throw InputError("key coarse-max-unknowns = " + std::to_string(max_unknowns) + ": must be >= 8");
}

void PcgOptions::validate() const {
  coarse.validate();
  if (!(tol > 0 && tol <= 1e-2))
    throw InputError("key tol = " + format_number(tol) + ": must be in (0, 0.01] (relative accuracy "
                     "of the column currents that conjugate gradients stop at)");
  if (max_iterations < 1)
    throw InputError("key pcg-max-iterations = " + std::to_string(max_iterations) + ": must be >= 1");
}

void LinearBackendOptions::validate() const {
  pcg.validate();
  if (rhs_block < 1 || rhs_block > 4096)
    throw InputError("key rhs-block = " + std::to_string(rhs_block) + ": must be in [1, 4096]");
}

std::unique_ptr<LinearBackend> make_linear_backend(LinearBackendKind kind,
                                                   const LinearBackendOptions& options) {
  options.validate();
  if (kind == LinearBackendKind::kCholmod) return std::make_unique<CholmodBackend>(options);
  if (kind == LinearBackendKind::kPcg) return std::make_unique<PcgBackend>(options);
  if (kind == LinearBackendKind::kEigen) return std::make_unique<EigenBackend>(options);
  return std::make_unique<KluBackend>(options);
}

}  // namespace xbar::solvers
