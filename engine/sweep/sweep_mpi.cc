// The MPI transport of `xbar sweep` (sweep_mpi.h): the loadable module libxbar_mpi.so, the
// only translation unit that includes mpi.h. Its one exported symbol, xbar_mpi_api(), hands
// sweep_mpi_loader.cc the table of sweep_mpi_api.h; the module needs nothing from the
// executable but the C++ runtime.
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "engine/sweep/sweep_mpi_api.h"

namespace xbar::engine::sweep::mpi {

namespace {

constexpr int kTagRequest = 71;  // worker -> master: "give me work" + previous result
constexpr int kTagTask = 72;     // master -> worker: a task, or "" = stop
constexpr int kTagEnd = 73;      // master -> worker: every point is recorded, finalize now
constexpr int kTagStart = 74;    // master -> worker: the session JSON, or "" = stop at once
// A waiting rank polls for its message rather than blocking in MPI_Recv/MPI_Finalize, which
// Open MPI implements by spinning on a core: with 2 ranks on 2 cores a spinning idle rank would
// halve the speed of the one still working. Poll quickly at first (the master answers a
// request within milliseconds), then sleep between polls.
constexpr auto kFastPoll = std::chrono::milliseconds(2);
constexpr auto kSlowPollSleep = std::chrono::microseconds(500);

std::string hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed (code " + std::to_string(rc) + ")");
}

void send_string(const std::string& s, int dest, int tag) {
  check(MPI_Send(s.data(), int(s.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD), "MPI_Send");
}

// Waits for a message (polling, see kFastPoll) and receives it whole.
std::string recv_string(int source, int tag, int* from = nullptr) {
  MPI_Status st;
  int flag = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    check(MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
    if (flag) break;
    if (std::chrono::steady_clock::now() - t0 > kFastPoll) std::this_thread::sleep_for(kSlowPollSleep);
  }
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string s(size_t(n), '\0');
  check(MPI_Recv(s.data(), n, MPI_CHAR, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  if (from) *from = st.MPI_SOURCE;
  return s;
}

World init() {
  // A sweep exchanges a few hundred bytes per point. Open MPI's default point-to-point layer
  // first probes UCX, which costs each rank 0.2 s at start-up on this machine for bandwidth the
  // sweep never uses (0.37 s -> 0.17 s for a 2-point sweep under mpirun -np 2); ob1 talks over
  // shared memory within a node and TCP between nodes. The user's choice wins: `mpirun --mca
  // pml ucx` or OMPI_MCA_pml in the environment.
  setenv("OMPI_MCA_pml", "ob1", 0);
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_FUNNELED)
    throw std::runtime_error("MPI: the library does not provide MPI_THREAD_FUNNELED (rank 0 runs points on a second thread)");
  World w;
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w.rank, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &w.local_size);
  MPI_Comm_free(&local);
  w.host = hostname();
  return w;
}

void finalize() { MPI_Finalize(); }

void abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

// Point to point rather than MPI_Bcast, so that the workers wait by polling while the master
// reads and checks the sweep (kFastPoll).
void broadcast_start(const std::string& session) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  for (int r = 1; r < size; ++r) send_string(session, r, kTagStart);
}

std::string receive_start() { return recv_string(0, kTagStart); }

bool poll_request(Request& out) {
  int flag = 0;
  MPI_Status st;
  check(MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, MPI_COMM_WORLD, &flag, &st), "MPI_Iprobe");
  if (!flag) return false;
  out.payload = recv_string(st.MPI_SOURCE, kTagRequest, &out.source);
  return true;
}

void send_task(int dest, const std::string& task) { send_string(task, dest, kTagTask); }

std::string request_task(const std::string& result) {
  send_string(result, 0, kTagRequest);
  return recv_string(0, kTagTask);
}

void send_end(int size) {
  for (int r = 1; r < size; ++r) send_string("", r, kTagEnd);
}

void wait_for_end() { recv_string(0, kTagEnd); }

const internal::MpiApi kApi = {internal::kMpiApiVersion, &init,         &finalize,  &abort,
                               &broadcast_start,        &receive_start, &poll_request, &send_task,
                               &request_task,           &send_end,      &wait_for_end};

}  // namespace

}  // namespace xbar::engine::sweep::mpi

extern "C" __attribute__((visibility("default"))) const xbar::engine::sweep::mpi::internal::MpiApi* xbar_mpi_api() {
  return &xbar::engine::sweep::mpi::kApi;
}
