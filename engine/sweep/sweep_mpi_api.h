// The MPI module's interface. Open MPI's libraries (libmpi, libopen-rte, libopen-pal, hwloc,
// libevent, libudev: 7 shared objects) were linked into every xbar process, although only
// `xbar sweep` started by mpirun uses them; linked, the loader mapped and relocated them at
// every start (`xbar solve` of a 64 x 64 array included). The transport (sweep_mpi.cc, the
// only file that includes mpi.h) is now a loadable module, libxbar_mpi.so, opened by
// sweep_mpi_loader.cc when a sweep finds itself launched by mpirun (sweep_mpi.h).
//
//   const MpiApi* api = xbar_mpi_api();   // the module's one exported symbol
//   World w = api->init();
#pragma once

#include <string>

#include "engine/sweep/sweep_mpi.h"

namespace xbar::engine::sweep::mpi::internal {

// Bumped whenever a signature below changes: a stale module is refused, not called.
constexpr int kMpiApiVersion = 1;

// One entry per function of sweep_mpi.h that needs MPI; same contracts as there.
struct MpiApi {
  int version;
  World (*init)();
  void (*finalize)();
  void (*abort)(int code);
  void (*broadcast_start)(const std::string& session);
  std::string (*receive_start)();
  bool (*poll_request)(Request& out);
  void (*send_task)(int dest, const std::string& task);
  std::string (*request_task)(const std::string& result);
  void (*send_end)(int size);
  void (*wait_for_end)();
};

}  // namespace xbar::engine::sweep::mpi::internal

extern "C" const xbar::engine::sweep::mpi::internal::MpiApi* xbar_mpi_api();
