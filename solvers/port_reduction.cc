#include "solvers/port_reduction.h"

#include <cholmod.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "netlists/circuit.h"
#include "solvers/grid_ordering.h"
#include "solvers/library_threads.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;
using netlists::DriveSide;
using netlists::SenseSide;

static_assert(std::is_same<SuiteSparse_long, int64_t>::value,
              "the pattern's indices must be SuiteSparse_long to be viewed without copying");

void PortReductionOptions::validate() const {
  if (ordering != Ordering::kAuto && ordering != Ordering::kGeometric && ordering != Ordering::kAmd)
    throw InputError("key ordering = " + to_string(ordering) +
                     ": the port reduction takes auto, geometric or amd (the terminals must be ordered last)");
}

namespace {

// CHOLMOD's switch between its simplicial and supernodal factorizations (flops per nonzero of
// L; its default is 40). The terminal block puts the port ordering at 56 (64^2), 100 (128^2)
// and 178 (256^2); measured, two factorizations each, simplicial vs supernodal: 64^2 0.028 vs
// 0.085 s, 128^2 0.22 vs 0.41 s, 256^2 2.0 vs 2.4 s (host load 7). 120 keeps 64^2 and 128^2
// simplicial and the sizes where the fronts are large supernodal.
constexpr double kSupernodalFlopsPerNonzero = 120;

// One terminal node: a driven row end or a sensed column end (both ends of a line that is one
// node, a 1-cell line or a 0-ohm wire, are one terminal with twice the conductance).
struct Terminal {
  bool drive = true;   // row end (else column end)
  int64_t line = 0;    // row i or column j
  int ends = 0;        // how many line ends meet at this node
  bool ideal = false;  // held at a known voltage (0-ohm driver or sense)
  double g_s = 0;      // resistive: total conductance to the source / virtual ground
};

}  // namespace

struct PortReduction::Impl {
  int64_t m = 0, n = 0;
  bool row_merged = false, col_merged = false;  // 0-ohm wires: one node per line
  int64_t n_rnets = 0, n_cnets = 0;
  int64_t n_int = 0, n_unk = 0;
  std::vector<int64_t> unknown_of_net;  // net -> unknown (interior first, terminals after)
  std::vector<Terminal> terms;          // terminal t is unknown n_int + t
  // Lower triangle of A (CSC over unknowns), pattern fixed, values refilled per conductance set.
  std::vector<int64_t> colptr, rowidx;
  std::vector<double> base, values;     // base: wires and terminal conductances
  std::vector<int64_t> cell_slot;       // MN: the off-diagonal entry of cell (i, j)
  std::vector<int64_t> pos_of_term;     // terminal -> position in the trailing block
  cholmod_common common{};
  cholmod_factor* factor = nullptr;

  int64_t rnet(int64_t i, int64_t j) const { return row_merged ? i : i * n + j; }
  int64_t cnet(int64_t i, int64_t j) const { return n_rnets + (col_merged ? j : i * n + j); }
  int64_t diag_slot(int64_t u) const { return colptr[size_t(u)]; }

  cholmod_sparse view() {
    cholmod_sparse a{};
    a.nrow = a.ncol = size_t(n_unk);
    a.nzmax = rowidx.size();
    a.p = colptr.data();
    a.i = rowidx.data();
    a.x = values.data();
    a.stype = -1;  // lower triangle stored
    a.itype = CHOLMOD_LONG;
    a.xtype = CHOLMOD_REAL;
    a.dtype = CHOLMOD_DOUBLE;
    a.sorted = 1;
    a.packed = 1;
    return a;
  }
  ~Impl() {
    if (factor) cholmod_l_free_factor(&factor, &common);
    cholmod_l_finish(&common);
  }
};

PortReduction::~PortReduction() = default;

PortReduction::PortReduction(const netlists::CrossbarSpec& spec, const PortReductionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  spec.validate();
  options.validate();
  const auto t0 = std::chrono::steady_clock::now();
  Impl& p = *impl_;
  const int64_t m = spec.rows, n = spec.cols, mn = m * n;
  p.m = m;
  p.n = n;
  const double r_row = spec.row_segment_ohm(), r_col = spec.col_segment_ohm();
  p.row_merged = !(r_row > 0) || n == 1;
  p.col_merged = !(r_col > 0) || m == 1;
  p.n_rnets = p.row_merged ? m : mn;
  p.n_cnets = p.col_merged ? n : mn;
  const int64_t n_nets = p.n_rnets + p.n_cnets;

  // Terminals, in a fixed order: drive ends by row, then sense ends by column.
  std::vector<int64_t> term_of_net(size_t(n_nets), -1);
  auto add_end = [&](int64_t net, bool drive, int64_t line, double r_ohm) {
    int64_t& t = term_of_net[size_t(net)];
    if (t < 0) {
      t = int64_t(p.terms.size());
      p.terms.push_back({drive, line, 0, !(r_ohm > 0), 0.0});
    }
    Terminal& term = p.terms[size_t(t)];
    ++term.ends;
    if (!term.ideal) term.g_s += 1.0 / r_ohm;
  };
  for (int64_t i = 0; i < m; ++i) {
    if (spec.drive != DriveSide::kRight) add_end(p.rnet(i, 0), true, i, spec.r_driver_ohm);
    if (spec.drive != DriveSide::kLeft) add_end(p.rnet(i, n - 1), true, i, spec.r_driver_ohm);
  }
  for (int64_t j = 0; j < n; ++j) {
    if (spec.sense != SenseSide::kTop) add_end(p.cnet(m - 1, j), false, j, spec.r_sense_ohm);
    if (spec.sense != SenseSide::kBottom) add_end(p.cnet(0, j), false, j, spec.r_sense_ohm);
  }
  const int64_t nt = int64_t(p.terms.size());
  p.n_int = n_nets - nt;
  p.n_unk = n_nets;
  p.unknown_of_net.assign(size_t(n_nets), -1);
  int64_t next = 0;
  for (int64_t net = 0; net < n_nets; ++net)
    p.unknown_of_net[size_t(net)] = term_of_net[size_t(net)] >= 0 ? p.n_int + term_of_net[size_t(net)] : next++;

  // Edges (net pairs) with a conductance: cells [0, MN), row wires, column wires.
  const double g_row = r_row > 0 ? 1.0 / r_row : 0.0, g_col = r_col > 0 ? 1.0 / r_col : 0.0;
  struct Edge {
    int64_t a, b;
  };
  std::vector<Edge> edges;
  edges.reserve(size_t(mn) + (p.row_merged ? 0 : size_t(m * (n - 1))) + (p.col_merged ? 0 : size_t((m - 1) * n)));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) edges.push_back({p.rnet(i, j), p.cnet(i, j)});
  const size_t first_wire = edges.size();
  if (!p.row_merged)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j + 1 < n; ++j) edges.push_back({p.rnet(i, j), p.rnet(i, j + 1)});
  const size_t first_col_wire = edges.size();
  if (!p.col_merged)
    for (int64_t i = 0; i + 1 < m; ++i)
      for (int64_t j = 0; j < n; ++j) edges.push_back({p.cnet(i, j), p.cnet(i + 1, j)});

  // Lower-triangular CSC by counting: column min(u, v) holds row max(u, v); the diagonal first.
  const int64_t nu = p.n_unk;
  p.colptr.assign(size_t(nu + 1), 0);
  for (int64_t u = 0; u < nu; ++u) p.colptr[size_t(u + 1)] = 1;
  for (const Edge& e : edges) {
    const int64_t u = p.unknown_of_net[size_t(e.a)], v = p.unknown_of_net[size_t(e.b)];
    ++p.colptr[size_t(std::min(u, v) + 1)];
  }
  for (int64_t u = 0; u < nu; ++u) p.colptr[size_t(u + 1)] += p.colptr[size_t(u)];
  const int64_t nnz = p.colptr[size_t(nu)];
  p.rowidx.assign(size_t(nnz), 0);
  std::vector<int64_t> fill(p.colptr.begin(), p.colptr.end() - 1), slot_of_edge(edges.size());
  for (int64_t u = 0; u < nu; ++u) p.rowidx[size_t(fill[size_t(u)]++)] = u;
  for (size_t k = 0; k < edges.size(); ++k) {
    const int64_t u = p.unknown_of_net[size_t(edges[k].a)], v = p.unknown_of_net[size_t(edges[k].b)];
    const int64_t c = std::min(u, v);
    slot_of_edge[k] = fill[size_t(c)]++;
    p.rowidx[size_t(slot_of_edge[k])] = std::max(u, v);
  }
  // Sort each column's off-diagonal rows (CHOLMOD wants sorted columns), carrying the slots.
  {
    std::vector<int64_t> where(static_cast<size_t>(nnz), -1);  // slot -> edge, -1 for diagonals
    for (size_t k = 0; k < edges.size(); ++k) where[size_t(slot_of_edge[k])] = int64_t(k);
    std::vector<std::pair<int64_t, int64_t>> col;
    for (int64_t u = 0; u < nu; ++u) {
      const int64_t b = p.colptr[size_t(u)] + 1, e = p.colptr[size_t(u + 1)];
      if (e - b < 2) continue;
      col.clear();
      for (int64_t s = b; s < e; ++s) col.emplace_back(p.rowidx[size_t(s)], where[size_t(s)]);
      std::sort(col.begin(), col.end());
      for (int64_t s = b; s < e; ++s) {
        p.rowidx[size_t(s)] = col[size_t(s - b)].first;
        slot_of_edge[size_t(col[size_t(s - b)].second)] = s;
      }
    }
  }
  p.cell_slot.assign(slot_of_edge.begin(), slot_of_edge.begin() + mn);
  p.base.assign(size_t(nnz), 0.0);
  auto stamp = [&](size_t k, double g) {
    const int64_t u = p.unknown_of_net[size_t(edges[k].a)], v = p.unknown_of_net[size_t(edges[k].b)];
    p.base[size_t(p.diag_slot(u))] += g;
    p.base[size_t(p.diag_slot(v))] += g;
    p.base[size_t(slot_of_edge[k])] -= g;
  };
  for (size_t k = first_wire; k < first_col_wire; ++k) stamp(k, g_row);
  for (size_t k = first_col_wire; k < edges.size(); ++k) stamp(k, g_col);
  for (int64_t t = 0; t < nt; ++t)
    if (!p.terms[size_t(t)].ideal) p.base[size_t(p.diag_slot(p.n_int + t))] += p.terms[size_t(t)].g_s;
  p.values = p.base;
  stats_.unknowns = nu;
  stats_.terminals = nt;
  for (const Terminal& t : p.terms) stats_.ideal_terminals += t.ideal;
  stats_.assemble_s = seconds_since(t0);

  // Ordering: the interior by geometric nested dissection (or CAMD), then the terminals.
  const auto t1 = std::chrono::steady_clock::now();
  cholmod_l_start(&p.common);
  p.common.print = 0;
  p.common.final_ll = 1;  // a simplicial factor in LL' form, as the supernodal one is
  // Supernodal (BLAS) only from kSupernodalFlopsPerNonzero flops per nonzero of L on: below,
  // the dense terminal block is too small for BLAS to pay for its calls and threads.
  p.common.supernodal_switch = kSupernodalFlopsPerNonzero;
  std::vector<int64_t> perm(static_cast<size_t>(nu));
  const bool grid = !p.row_merged && !p.col_merged;
  Ordering ord = options.ordering;
  if (ord == Ordering::kAuto) ord = grid ? Ordering::kGeometric : Ordering::kAmd;
  if (ord == Ordering::kGeometric && !grid)
    throw InputError("key ordering = geometric: 0-ohm wires merge each line into one node, so the array is "
                     "not a grid; use amd or auto");
  cholmod_sparse a = p.view();
  if (ord == Ordering::kGeometric) {
    std::vector<GridCoord> coords(size_t(p.n_int));
    for (int64_t net = 0; net < n_nets; ++net) {
      const int64_t u = p.unknown_of_net[size_t(net)];
      if (u >= p.n_int) continue;
      const bool col_layer = net >= p.n_rnets;
      const int64_t q = col_layer ? net - p.n_rnets : net;
      coords[size_t(u)] = {int32_t(q / n), int32_t(q % n), col_layer ? 1 : 0};
    }
    const std::vector<int64_t> inner = grid_nested_dissection(coords);
    std::copy(inner.begin(), inner.end(), perm.begin());
    for (int64_t t = 0; t < nt; ++t) perm[size_t(p.n_int + t)] = p.n_int + t;
    stats_.ordering_used = "geometric-nd+ports";
  } else {
    std::vector<int64_t> cmember(size_t(nu), 0);
    for (int64_t u = p.n_int; u < nu; ++u) cmember[size_t(u)] = 1;
    if (!cholmod_l_camd(&a, nullptr, 0, cmember.data(), perm.data(), &p.common))
      throw NumericalError("port reduction: CAMD ordering failed (CHOLMOD status " + std::to_string(p.common.status) + ")");
    stats_.ordering_used = "camd+ports";
  }
  p.common.nmethods = 1;
  p.common.method[0].ordering = CHOLMOD_GIVEN;
  p.common.postorder = 1;
  auto analyze = [&] {
    if (p.factor) cholmod_l_free_factor(&p.factor, &p.common);
    p.factor = cholmod_l_analyze_p(&a, perm.data(), nullptr, 0, &p.common);
    if (!p.factor || p.common.status < CHOLMOD_OK)
      throw NumericalError("port reduction: CHOLMOD analyze failed (status " + std::to_string(p.common.status) + ")");
  };
  // The terminals must stay last; the etree postorder keeps a dense trailing block last (a
  // chain at the root), and if it ever did not, the given order is used as it is.
  auto terminals_last = [&] {
    const auto* fperm = static_cast<const int64_t*>(p.factor->Perm);
    p.pos_of_term.assign(size_t(nt), -1);
    for (int64_t k = nu - nt; k < nu; ++k) {
      if (fperm[k] < p.n_int) return false;
      p.pos_of_term[size_t(fperm[k] - p.n_int)] = k - (nu - nt);
    }
    return true;
  };
  analyze();
  if (!terminals_last()) {
    p.common.postorder = 0;
    analyze();
    XBAR_EXPECTS(terminals_last(), "PortReduction: the given ordering did not keep the terminals last");
  }
  stats_.nnz_factor = p.common.lnz;
  stats_.analyze_s = seconds_since(t1);
}

double PortReduction::predicted_bytes() const {
  const double nt = double(stats_.terminals);
  return 9.0 * stats_.nnz_factor + 120.0 * double(impl_->m * impl_->n) + 24.0 * nt * nt;
}

RowMatrixXd PortReduction::effective_matrix(const RowMatrixXd& g) {
  Impl& p = *impl_;
  const int64_t m = p.m, n = p.n, nt = int64_t(p.terms.size()), nu = p.n_unk, n0 = nu - nt;
  if (g.rows() != m || g.cols() != n)
    throw InputError("conductance matrix is " + std::to_string(g.rows()) + " x " + std::to_string(g.cols()) +
                     ", expected rows x cols = " + std::to_string(m) + " x " + std::to_string(n));
  const auto t0 = std::chrono::steady_clock::now();
  // Values: wires and terminal conductances, then every cell.
  std::copy(p.base.begin(), p.base.end(), p.values.begin());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double gij = g(i, j);
      if (!std::isfinite(gij) || gij < 0)
        throw InputError("conductance G[" + std::to_string(i) + ", " + std::to_string(j) + "] = " +
                         format_number(gij) + ": must be finite and >= 0 siemens");
      if (gij > 1.0 / netlists::kMinResistanceOhm)
        throw InputError("element 'rcell_" + std::to_string(i) + "_" + std::to_string(j) + "': conductance " +
                         format_number(gij) + " S (resistance below " + format_number(netlists::kMinResistanceOhm) +
                         " ohm) is not a physical wire; use 0 ohm for an ideal short");
      const int64_t u = p.unknown_of_net[size_t(p.rnet(i, j))], v = p.unknown_of_net[size_t(p.cnet(i, j))];
      p.values[size_t(p.diag_slot(u))] += gij;
      p.values[size_t(p.diag_slot(v))] += gij;
      p.values[size_t(p.cell_slot[size_t(i * n + j)])] -= gij;
    }
  // Ideal terminals: shift the diagonal so that the trailing block is positive definite (see
  // the header: their own diagonal entry is never read).
  for (int64_t t = 0; t < nt; ++t)
    if (p.terms[size_t(t)].ideal) {
      double& d = p.values[size_t(p.diag_slot(n0 + t))];
      d = d > 0 ? 2 * d : 1.0;
    }
  cholmod_sparse a = p.view();
  {
    const FactorizationThreads threads(p.common.fl);  // on this thread alone unless asked (library_threads.h)
    cholmod_l_factorize(&a, p.factor, &p.common);
  }
  if (p.common.status == CHOLMOD_NOT_POSDEF || p.common.status < CHOLMOD_OK)
    throw NumericalError("port reduction: CHOLMOD factorize failed (status " + std::to_string(p.common.status) +
                         (p.common.status == CHOLMOD_OUT_OF_MEMORY ? ": out of memory" : "") + ")");
  stats_.factorize_s += seconds_since(t0);
  stats_.flops = p.common.fl;
  stats_.nnz_factor = p.common.lnz;
  stats_.supernodal = p.factor->is_super;
  ++stats_.factorizations;

  // The trailing block L_TT, in factor positions.
  const auto t1 = std::chrono::steady_clock::now();
  Eigen::MatrixXd ltt = Eigen::MatrixXd::Zero(nt, nt);
  const cholmod_factor* f = p.factor;
  const auto* lx = static_cast<const double*>(f->x);
  if (f->is_super) {
    const auto* super = static_cast<const int64_t*>(f->super);
    const auto* pi = static_cast<const int64_t*>(f->pi);
    const auto* px = static_cast<const int64_t*>(f->px);
    const auto* ls = static_cast<const int64_t*>(f->s);
    for (int64_t s = int64_t(f->nsuper) - 1; s >= 0 && super[s + 1] > n0; --s) {
      const int64_t k1 = super[s], k2 = super[s + 1], nsrow = pi[s + 1] - pi[s];
      for (int64_t c = std::max(k1, n0); c < k2; ++c) {
        const double* col = lx + px[s] + (c - k1) * nsrow;
        for (int64_t r = c - k1; r < nsrow; ++r) ltt(ls[pi[s] + r] - n0, c - n0) = col[r];
      }
    }
  } else {
    XBAR_EXPECTS(f->is_ll, "PortReduction: the simplicial factor must be LL' (final_ll)");
    const auto* lp = static_cast<const int64_t*>(f->p);
    const auto* li = static_cast<const int64_t*>(f->i);
    const auto* lnz = static_cast<const int64_t*>(f->nz);
    for (int64_t c = n0; c < nu; ++c)
      for (int64_t e = lp[c]; e < lp[c] + lnz[c]; ++e) ltt(li[e] - n0, c - n0) = lx[e];
  }
  // K = L_TT L_TT^T, in terminal order (ideal terminals' diagonal: shifted, never read). Only
  // the blocks the terminal algebra reads: with the drive terminals ahead of the sense
  // terminals in the factor (the given order; the postorder keeps it), K_qp = L_qp L_pp^T,
  // K_pp = L_pp L_pp^T (resistive drives), K_qq = L_qp L_qp^T + L_qq L_qq^T (resistive
  // senses). All ideal: K_qp alone, N M^2 flops instead of (M + N)^3.
  int64_t nd = 0;
  bool drive_res = false, sense_res = false;
  for (const Terminal& t : p.terms) {
    nd += t.drive;
    (t.drive ? drive_res : sense_res) |= !t.ideal;
  }
  bool drives_first = true;
  for (int64_t a = 0; a < nt; ++a) drives_first &= (p.pos_of_term[size_t(a)] < nd) == p.terms[size_t(a)].drive;
  Eigen::MatrixXd kpos = Eigen::MatrixXd::Zero(nt, nt);  // lower triangle used
  if (drives_first) {
    const int64_t nq = nt - nd;
    const Eigen::MatrixXd lpp = ltt.topLeftCorner(nd, nd), lqp = ltt.bottomLeftCorner(nq, nd);
    kpos.bottomLeftCorner(nq, nd).noalias() = lqp * lpp.triangularView<Eigen::Lower>().transpose();
    if (drive_res) kpos.topLeftCorner(nd, nd).noalias() = lpp.triangularView<Eigen::Lower>() * lpp.transpose();
    if (sense_res) {
      const Eigen::MatrixXd lqq = ltt.bottomRightCorner(nq, nq);
      kpos.bottomRightCorner(nq, nq).noalias() = lqq.triangularView<Eigen::Lower>() * lqq.transpose();
      kpos.bottomRightCorner(nq, nq).noalias() += lqp * lqp.transpose();
    }
  } else {
    kpos.selfadjointView<Eigen::Lower>().rankUpdate(ltt);
  }
  ltt.resize(0, 0);
  Eigen::MatrixXd k(nt, nt);
  for (int64_t b = 0; b < nt; ++b)
    for (int64_t a = 0; a < nt; ++a) {
      const int64_t pa = p.pos_of_term[size_t(a)], pb = p.pos_of_term[size_t(b)];
      k(a, b) = pa >= pb ? kpos(pa, pb) : kpos(pb, pa);
    }
  kpos.resize(0, 0);

  // The terminal algebra of the header, for unit inputs (one column per row voltage).
  std::vector<int64_t> res, ideal_drive;  // resistive terminals; ideal drive terminals
  for (int64_t t = 0; t < nt; ++t) {
    if (!p.terms[size_t(t)].ideal) res.push_back(t);
    else if (p.terms[size_t(t)].drive) ideal_drive.push_back(t);
  }
  const int64_t nr = int64_t(res.size());
  Eigen::MatrixXd xr;  // nr x M: the resistive terminals' voltages per unit input
  if (nr > 0) {
    Eigen::MatrixXd y = Eigen::MatrixXd::Zero(nr, m);
    for (int64_t a = 0; a < nr; ++a) {
      const Terminal& ta = p.terms[size_t(res[size_t(a)])];
      if (ta.drive) y(a, ta.line) += ta.g_s;
      for (int64_t d : ideal_drive) y(a, p.terms[size_t(d)].line) -= k(res[size_t(a)], d);
    }
    Eigen::MatrixXd krr(nr, nr);
    for (int64_t b = 0; b < nr; ++b)
      for (int64_t a = 0; a < nr; ++a) krr(a, b) = k(res[size_t(a)], res[size_t(b)]);
    Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt(krr);
    if (llt.info() != Eigen::Success)
      throw NumericalError("port reduction: the terminal system is not positive definite");
    xr = llt.solve(y);
  }
  // Column currents: resistive senses x_q / R; ideal senses -(K_qR x_R + K_qD x_D), with x_D
  // 1 V on the unit input's own ideal drive ends.
  std::vector<int64_t> slot_in_res(size_t(nt), -1), ideal_sense;
  for (int64_t a = 0; a < nr; ++a) slot_in_res[size_t(res[size_t(a)])] = a;
  for (int64_t q = 0; q < nt; ++q)
    if (!p.terms[size_t(q)].drive && p.terms[size_t(q)].ideal) ideal_sense.push_back(q);
  Eigen::MatrixXd tt = Eigen::MatrixXd::Zero(n, m);  // T^T
  for (int64_t q = 0; q < nt; ++q) {
    const Terminal& tq = p.terms[size_t(q)];
    if (!tq.drive && !tq.ideal) tt.row(tq.line) += tq.g_s * xr.row(slot_in_res[size_t(q)]);
  }
  if (!ideal_sense.empty() && nr > 0) {
    Eigen::MatrixXd kqr(int64_t(ideal_sense.size()), nr);
    for (int64_t a = 0; a < nr; ++a)
      for (size_t b = 0; b < ideal_sense.size(); ++b) kqr(int64_t(b), a) = k(ideal_sense[b], res[size_t(a)]);
    const Eigen::MatrixXd z = kqr * xr;
    for (size_t b = 0; b < ideal_sense.size(); ++b) tt.row(p.terms[size_t(ideal_sense[b])].line) -= z.row(int64_t(b));
  }
  for (int64_t q : ideal_sense)
    for (int64_t d : ideal_drive) tt(p.terms[size_t(q)].line, p.terms[size_t(d)].line) -= k(q, d);
  RowMatrixXd t = tt.transpose();
  stats_.reduce_s += seconds_since(t1);
  return t;
}

}  // namespace xbar::solvers
