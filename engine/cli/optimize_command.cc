#include "engine/cli/optimize_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

// XBAR_PYTHON_EXECUTABLE (the interpreter the extension _xbar was built for) and
// XBAR_PYTHON_PATH (python/ and the build's python/ holding _xbar) come from CMakeLists.txt
// when the Python package is built.

namespace xbar::engine::cli {

int run_optimize_command(int argc, char** argv) {
#if defined(XBAR_PYTHON_EXECUTABLE) && defined(XBAR_PYTHON_PATH)
  // XBAR_PYTHON chooses another interpreter (one with numpy, optuna and this _xbar's ABI).
  const char* env_python = std::getenv("XBAR_PYTHON");
  const std::string python = env_python && *env_python ? env_python : XBAR_PYTHON_EXECUTABLE;
  // This build's package first, whatever a .pth file or the caller's PYTHONPATH names.
  std::string path = XBAR_PYTHON_PATH;
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
  setenv("PYTHONPATH", path.c_str(), 1);
  // Trials of `evaluate` run this executable (its libtorch module takes the engine from it).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    setenv("XBAR_BINARY", self, 1);
  }
  std::vector<std::string> args = {python, "-m", "xbar.optimize"};
  for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> c_args;
  for (std::string& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  execv(python.c_str(), c_args.data());
  std::cerr << "xbar optimize: error: cannot start " << python << " (" << std::strerror(errno)
            << "): the search runs in Debian's python3 with python3-optuna and python3-numpy (scripts/setup.sh), or "
               "the interpreter named by XBAR_PYTHON\n";
#else
  (void)argc;
  (void)argv;
  std::cerr << "xbar optimize: error: this build has no Python package (CMake XBAR_WITH_PYTHON off, python3-dev or "
               "pybind11-dev missing, or the sanitizer build); the search runs in python3 through it\n";
#endif
  return 1;
}

}  // namespace xbar::engine::cli
