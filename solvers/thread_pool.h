// ThreadPool: the PCG back end's worker threads, which sleep instead of spinning between jobs.
//
//   ThreadPool pool(2);                          // the caller + 1 worker
//   pool.run(n_wanted, [&](int t, int nt) {...});  // f on nt <= n_wanted threads, t = 0 is the caller
//   pool.for_range(n, min_n, [&](int64_t b, int64_t e) {...});   // static split of [0, n)
//
// Why not OpenMP. libgomp's threads spin after every parallel region (indefinitely with
// OMP_WAIT_POLICY=active, ~300k spins by default), and the policy is read from the environment
// when the library loads, so a program cannot choose it. A CG iteration is a dozen short
// regions with serial work between them; on a host shared with other jobs (4 engineers on 2
// cores here) the spinning worker takes the core the rest of the process, or the next region,
// needs: the same 1024^2 solve took 1.4 s with OMP_WAIT_POLICY=passive and 2.0 s with active,
// and a 512^2 Newton solve 2.9 s against 5.5 s (bench/README.md). This pool spins for a few
// microseconds (a region that follows at once starts at once) and then blocks on a condition
// variable, whatever the environment.
//
// Contract: run() and for_range() may be called from one thread at a time; a call made while a
// job is running (from inside f, i.e. nested) runs f on the calling thread alone (nt = 1), as
// nested OpenMP regions do. The pool is not copyable; destruction joins the workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace xbar::solvers {

class ThreadPool {
 public:
  // threads >= 1 in total, counting the caller (threads - 1 workers are started).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }
  // f(t, nt) on nt = min(wanted, threads()) threads (nt = 1 when nested), t in [0, nt).
  void run(int wanted, const std::function<void(int, int)>& f);
  // f(begin, end) over a static split of [0, n) into contiguous ranges, one per thread; on the
  // caller alone when n < min_parallel.
  template <class F>
  void for_range(int64_t n, int64_t min_parallel, F&& f) {
    if (n < min_parallel || threads() == 1) {
      if (n > 0) f(int64_t(0), n);
      return;
    }
    run(threads(), [&](int t, int nt) {
      const int64_t b = n * t / nt, e = n * (t + 1) / nt;
      if (e > b) f(b, e);
    });
  }

 private:
  void work(int index);
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> busy_{false};
  bool stop_ = false;
};

// Runs f on `pool` when given, else on the caller alone (f(0, 1)).
inline void run_on(ThreadPool* pool, int wanted, const std::function<void(int, int)>& f) {
  if (pool) pool->run(wanted, f);
  else f(0, 1);
}

template <class F>
void for_range_on(ThreadPool* pool, int64_t n, int64_t min_parallel, F&& f) {
  if (pool) pool->for_range(n, min_parallel, std::forward<F>(f));
  else if (n > 0) f(int64_t(0), n);
}

}  // namespace xbar::solvers
