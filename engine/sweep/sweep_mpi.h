// The MPI transport of `xbar sweep` (OpenMPI). The scheduling itself (who runs which point)
// lives in sweep_runner.cc; these functions move strings between ranks. The transport is the
// loadable module libxbar_mpi.so (sweep_mpi.cc, the only translation unit that includes mpi.h;
// built when CMake's XBAR_WITH_MPI is ON and MPI is found), opened on first use by
// sweep_mpi_loader.cc, so only a sweep started by mpirun loads Open MPI.
//
//   if (sweep_mpi::launched() && sweep_mpi::available()) {   // mpirun started us, module loads
//     sweep_mpi::World w = sweep_mpi::init();    // MPI_Init_thread(FUNNELED)
//     ... rank 0: broadcast_start(session), poll_request(), send_task(); others: request_task()
//     sweep_mpi::finalize();
//   }
//
// Protocol (rank 0 = master, others = workers; tags are private to sweep_mpi.cc):
//   1. master: broadcast_start(session JSON), or "" to tell the workers to stop at once (a bad
//      sweep INI); workers: receive_start().
//   2. worker: request_task(previous result JSON or "") sends a request and waits for the
//      answer: a task JSON, or "" = no work left (the worker then returns).
//   3. master: poll_request() (non-blocking; the master thread sleeps between polls, so an idle
//      master costs no core) and send_task(worker, task or "").
// Only the thread that called init() may call these (MPI_THREAD_FUNNELED); rank 0 runs its own
// points on a second thread that never touches MPI. Called while available() is false, the
// functions from init() on throw std::runtime_error with unavailable_reason().
#pragma once

#include <string>

namespace xbar::engine::sweep::mpi {

struct World {
  int rank = 0;
  int size = 1;
  int local_size = 1;  // ranks on this node (MPI_COMM_TYPE_SHARED)
  std::string host;
};

// True when the MPI module can be used: this xbar was built with MPI and libxbar_mpi.so (with
// Open MPI's libraries) opens. The first call opens it (thread-safe) and so loads Open MPI:
// call it only when launched().
bool available();
// Why available() is false: built without MPI, or every module path tried and the loader's
// message. Empty when available.
std::string unavailable_reason();
// True when a launcher started this process as one rank of several or of one (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_SIZE in the environment). Does not initialise MPI.
bool launched();
// Size of the job as the launcher's environment says (1 when not launched).
int launched_size();
int launched_rank();

World init();
void finalize();
[[noreturn]] void abort(int code);

void broadcast_start(const std::string& session);
std::string receive_start();

struct Request {
  int source = -1;
  std::string payload;  // the worker's previous result, "" on its first request
};
bool poll_request(Request& out);
void send_task(int dest, const std::string& task);
std::string request_task(const std::string& result);
// 4. master, once every point is recorded: send_end(size); workers wait_for_end() (polling,
//    not spinning in MPI_Finalize), then every rank calls finalize().
void send_end(int size);
void wait_for_end();

}  // namespace xbar::engine::sweep::mpi
