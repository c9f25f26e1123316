// sweep_mpi.h: the launcher's environment, and the MPI module (libxbar_mpi.so, sweep_mpi.cc)
// opened on first use, its functions forwarded through the table of sweep_mpi_api.h.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/sweep/sweep_mpi.h"
#include "engine/sweep/sweep_mpi_api.h"

#ifndef XBAR_MPI_MODULE_DIR
#define XBAR_MPI_MODULE_DIR ""
#endif

namespace xbar::engine::sweep::mpi {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

#ifdef XBAR_HAVE_MPI
constexpr const char* kModuleName = "libxbar_mpi.so";

// $XBAR_MPI_MODULE alone when set, else next to the running executable, else the build
// directory (tests, benchmarks).
std::vector<std::string> candidates() {
  if (const char* env = std::getenv("XBAR_MPI_MODULE"); env && *env) return {env};
  std::vector<std::string> c;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) c.push_back((exe.parent_path() / kModuleName).string());
  const std::string build_dir = XBAR_MPI_MODULE_DIR;
  if (!build_dir.empty()) c.push_back((std::filesystem::path(build_dir) / kModuleName).string());
  return c;
}
#endif

struct Loaded {
  const internal::MpiApi* api = nullptr;
  std::string reason;  // why api is null
};

Loaded open_module() {
#ifndef XBAR_HAVE_MPI
  return {nullptr, "this xbar was built without MPI (cmake -DXBAR_WITH_MPI=ON, package libopenmpi-dev)"};
#else
  std::string tried;
  for (const std::string& path : candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += "\n  " + path + ": no such file";
      continue;
    }
    // RTLD_GLOBAL: Open MPI opens its components (mca_pml_ob1.so, ...) itself, and they take
    // libmpi's symbols from the global scope without listing libmpi as a dependency.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      const char* why = dlerror();
      tried += "\n  " + path + ": " + (why ? why : "not loadable");
      continue;
    }
    using Entry = const internal::MpiApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(h, "xbar_mpi_api"));
    const internal::MpiApi* api = entry ? entry() : nullptr;
    if (!api || api->version != internal::kMpiApiVersion) {
      tried += "\n  " + path + ": not an xbar MPI module of interface version " +
               std::to_string(internal::kMpiApiVersion) + " (a stale build? rebuild xbar)";
      continue;
    }
    return {api, ""};  // never closed: Open MPI cannot be initialised twice in a process
  }
  return {nullptr, "the MPI module " + std::string(kModuleName) +
                       " (built next to xbar; XBAR_MPI_MODULE=PATH chooses one) could not be loaded:" + tried};
#endif
}

const Loaded& loaded() {
  static std::once_flag once;
  static Loaded l;
  std::call_once(once, [] { l = open_module(); });
  return l;
}

const internal::MpiApi& api() {
  const Loaded& l = loaded();
  if (!l.api) throw std::runtime_error("MPI: " + l.reason);
  return *l.api;
}

}  // namespace

bool launched() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_SIZE");
}

int launched_size() {
  return env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", launched() ? -1 : 1));
}

int launched_rank() {
  return env_int("OMPI_COMM_WORLD_RANK", env_int("PMIX_RANK", env_int("PMI_RANK", 0)));
}

bool available() { return loaded().api != nullptr; }
std::string unavailable_reason() { return loaded().reason; }

World init() { return api().init(); }
void finalize() {
  if (available()) api().finalize();
}
void abort(int code) {
  if (available()) api().abort(code);
  std::_Exit(code);
}
void broadcast_start(const std::string& session) { api().broadcast_start(session); }
std::string receive_start() { return api().receive_start(); }
bool poll_request(Request& out) { return api().poll_request(out); }
void send_task(int dest, const std::string& task) { api().send_task(dest, task); }
std::string request_task(const std::string& result) { return api().request_task(result); }
void send_end(int size) { api().send_end(size); }
void wait_for_end() { api().wait_for_end(); }

}  // namespace xbar::engine::sweep::mpi
