#include "solvers/grid_ordering.h"

#include <algorithm>

namespace xbar::solvers {

namespace {

// Below this many unknowns a block is eliminated in its natural order; the fill of such small
// blocks is negligible next to the separators above them.
constexpr int64_t kLeafSize = 64;

struct Box {
  int32_t i0, i1, j0, j1;  // half-open ranges of grid indices
};

void dissect(std::vector<int64_t>& perm, int64_t lo, int64_t hi, Box box,
             const std::vector<GridCoord>& c) {
  while (hi - lo > kLeafSize && (box.i1 - box.i0 > 1 || box.j1 - box.j0 > 1)) {
    const bool split_cols = box.j1 - box.j0 >= box.i1 - box.i0;
    auto first_of = [&](int64_t u) -> int {  // 0 first part, 1 second part, 2 separator
      const GridCoord& g = c[size_t(u)];
      if (split_cols) {
        const int32_t mid = box.j0 + (box.j1 - box.j0) / 2;
        if (g.j < mid) return 0;
        if (g.j > mid) return 1;
        return g.layer == 0 ? 2 : 0;  // row nodes at j = mid separate; column nodes go left
      }
      const int32_t mid = box.i0 + (box.i1 - box.i0) / 2;
      if (g.i < mid) return 0;
      if (g.i > mid) return 1;
      return g.layer == 1 ? 2 : 0;  // column nodes at i = mid separate; row nodes go up
    };
    // Stable three-way partition so that the order inside each part stays row-major.
    auto p1 = std::stable_partition(perm.begin() + lo, perm.begin() + hi,
                                    [&](int64_t u) { return first_of(u) == 0; });
    auto p2 = std::stable_partition(p1, perm.begin() + hi,
                                    [&](int64_t u) { return first_of(u) == 1; });
    const int64_t m1 = p1 - perm.begin(), m2 = p2 - perm.begin();
    Box a = box, b = box;
    if (split_cols) {
      const int32_t mid = box.j0 + (box.j1 - box.j0) / 2;
      a.j1 = mid + 1;  // keeps the column nodes of j = mid
      b.j0 = mid + 1;
    } else {
      const int32_t mid = box.i0 + (box.i1 - box.i0) / 2;
      a.i1 = mid + 1;
      b.i0 = mid + 1;
    }
    dissect(perm, lo, m1, a, c);
    // Tail-iterate on the second part; the separator [m2, hi) stays last.
    lo = m1;
    hi = m2;
    box = b;
  }
}

}  // namespace

std::vector<int64_t> grid_nested_dissection(const std::vector<GridCoord>& coords) {
  std::vector<int64_t> perm(coords.size());
  for (size_t k = 0; k < perm.size(); ++k) perm[k] = int64_t(k);
  if (coords.empty()) return perm;
  Box box{coords[0].i, coords[0].i + 1, coords[0].j, coords[0].j + 1};
  for (const auto& g : coords) {
    box.i0 = std::min(box.i0, g.i);
    box.i1 = std::max(box.i1, g.i + 1);
    box.j0 = std::min(box.j0, g.j);
    box.j1 = std::max(box.j1, g.j + 1);
  }
  dissect(perm, 0, int64_t(perm.size()), box, coords);
  return perm;
}

}  // namespace xbar::solvers
