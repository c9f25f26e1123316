#include "solvers/linear_backend.h"

#include "devices/input_error.h"
#include "solvers/cholmod_backend.h"
#include "solvers/klu_backend.h"

namespace xbar::solvers {

std::string to_string(LinearBackendKind k) {
  return k == LinearBackendKind::kCholmod ? "cholmod" : "klu";
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

void LinearBackendOptions::validate() const {
  if (rhs_block < 1 || rhs_block > 4096)
    throw InputError("key rhs-block = " + std::to_string(rhs_block) + ": must be in [1, 4096]");
}

std::unique_ptr<LinearBackend> make_linear_backend(LinearBackendKind kind,
                                                   const LinearBackendOptions& options) {
  options.validate();
  if (kind == LinearBackendKind::kCholmod) return std::make_unique<CholmodBackend>(options);
  return std::make_unique<KluBackend>(options);
}

}  // namespace xbar::solvers
