// Helpers shared by the non-ideality sampler tests: statistical tolerances and scratch files.
//
// Statistical checks compare an estimate from n draws with its closed-form expectation, with
// the tolerance expressed in standard errors of that estimate (derived from n and the
// distribution, never from an earlier run of the code).
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace xbar::test {

// Five standard errors: a two-sided false-alarm probability of 5.7e-7 per check for a correct
// sampler (the seeds are fixed, so a pass is also reproducible), while a bias of 1 % of sigma
// on 1e6 draws is already 10 standard errors away.
constexpr double kStandardErrors = 5.0;

// |estimate - expected| <= kStandardErrors * standard_error, reported with all three values.
inline void check_within_se(const char* what, double estimate, double expected,
                            double standard_error) {
  std::ostringstream m;
  m << what << ": estimate " << estimate << ", expected " << expected << ", standard error "
    << standard_error << " (" << (estimate - expected) / standard_error << " SE)";
  const std::string message = m.str();
  INFO(message);
  CHECK(std::abs(estimate - expected) <= kStandardErrors * standard_error);
}

// Standard error of a binomial frequency with success probability p over n trials.
inline double binomial_se(double p, double n) { return std::sqrt(p * (1 - p) / n); }

// A scratch file under the system temp directory, removed when the object goes out of scope.
class ScratchFile {
 public:
  ScratchFile(const std::string& name, const std::string& content)
      : path_((std::filesystem::temp_directory_path() /
               ("xbar_test_" + std::to_string(::getpid()) + "_" + name))
                  .string()) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace xbar::test
