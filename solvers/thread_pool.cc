#include "solvers/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace xbar::solvers {

namespace {
// How long a waiting thread polls before it blocks: long enough that the next region of a CG
// iteration (microseconds of serial work apart) starts without a wake-up, short enough that a
// waiting thread costs nothing measurable on a busy host.
constexpr auto kSpin = std::chrono::microseconds(20);
}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(int wanted, const std::function<void(int, int)>& f) {
  const int nt = std::max(1, std::min(wanted, threads()));
  if (nt == 1 || busy_.exchange(true)) {  // one thread, or nested: on the caller alone
    f(0, 1);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &f;
    job_threads_ = nt;
    pending_.store(nt - 1);
    generation_.fetch_add(1);
  }
  start_cv_.notify_all();
  f(0, nt);
  const auto t0 = std::chrono::steady_clock::now();
  while (pending_.load() != 0) {
    if (std::chrono::steady_clock::now() - t0 > kSpin) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [&] { return pending_.load() == 0; });
      break;
    }
  }
  busy_.store(false);
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Poll briefly for the next job, then block.
    const auto t0 = std::chrono::steady_clock::now();
    while (generation_.load() == seen && std::chrono::steady_clock::now() - t0 < kSpin) {
    }
    const std::function<void(int, int)>* job = nullptr;
    int nt = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stop_) return;
      job = job_;
      nt = job_threads_;
    }
    if (index < nt) {
      (*job)(index, nt);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_cv_.notify_one();
      }
    }
  }
}

}  // namespace xbar::solvers
