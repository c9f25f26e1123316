// The PCG back end's thread pool (solvers/thread_pool.h): every index of a range is visited
// exactly once, whatever the split; nested calls run on the calling thread; a long sequence of
// short jobs (a CG iteration's pattern) neither loses nor repeats work.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <vector>

#include "solvers/thread_pool.h"

using xbar::solvers::ThreadPool;

TEST_CASE("the pool visits every index of a range exactly once, for any size and thread count") {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    CHECK(pool.threads() == threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      CAPTURE(threads);
      CAPTURE(n);
      std::vector<int> hits(size_t(n), 0);
      pool.for_range(n, 0, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
      });
      CHECK(std::count(hits.begin(), hits.end(), 1) == n);
    }
  }
}

TEST_CASE("a nested call runs on the calling thread alone, and short jobs in a row all complete") {
  ThreadPool pool(2);
  std::atomic<int> outer{0}, inner{0};
  pool.run(2, [&](int, int nt) {
    CHECK(nt == 2);
    ++outer;
    pool.run(2, [&](int t, int nt2) {  // nested: inline, one thread
      CHECK(t == 0);
      CHECK(nt2 == 1);
      ++inner;
    });
  });
  CHECK(outer == 2);
  CHECK(inner == 2);
  int64_t total = 0;
  std::vector<int64_t> part(2);
  for (int rep = 0; rep < 20000; ++rep) {
    part.assign(2, 0);
    pool.run(2, [&](int t, int nt) {
      for (int64_t i = 100 * t / nt; i < 100 * (t + 1) / nt; ++i) part[size_t(t)] += i;
    });
    total += part[0] + part[1];
  }
  CHECK(total == int64_t(20000) * 4950);
}
