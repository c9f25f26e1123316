// Compensation maps and error figures for arrays of nonlinear cells (sinh, selector, 1t1r).
//
//   RowMatrixXd ideal = calib::wire_free_currents(*cell, g, v);        // K x N reference
//   calib::Compensation c = calib::compensate_nonlinear(spec, g, cell, v_op, opt, solver);
//   RowMatrixXd i = calib::array_currents(spec, c.g_s, cell, v, solver);  // Newton, K x N
//
// A nonlinear array has no effective matrix: its currents are not linear in the inputs, so no
// single map is right for every input. The map is built at one stated operating input v_op
// (xbar uses every row at v-read, the worst case for IR drop) and its error is then reported
// over the whole input distribution. The reference is the same cells with no wire, driver or
// sense resistance, I_j = sum_i f(g_ij, v_i) with f the cell's two-terminal characteristic
// (devices::CellModel::evaluate; for 1t1r the memory element and its access transistor with
// the column at 0 V; for flash the transistor with its source at 0 V and its gate at its own
// line's voltage): the map corrects IR drop, not the device's own nonlinearity. Flash arrays
// (per-cell value V_th, not a conductance) have their map in conductance equivalents:
// calib/flash_compensation.h (compensate_nonlinear() does not take them).
//
// Iteration (calib/fixed_point.h): measure(G') = every cell's own current at v_op, from one
// Newton solve of the whole array (I = f(G'_ij, v_r - v_c) for two-terminal cells; the memory
// element's G'_ij (v_r - v_m) for 1t1r); target = s f(G_ij, v_op,i); next G' = G' target / I,
// which is exact for cells whose current is proportional to G at a fixed voltage (linear,
// sinh) and a damped step for those with a series element (selector, access transistor).
// Anderson acceleration mixes the last iterates. Matching every cell's current at v_op makes
// the array exact at v_op and, by continuity, close to it for inputs near it.
#pragma once

#include <memory>

#include "calib/compensation.h"
#include "devices/cell_model.h"

namespace xbar::calib {

// Same cells, ideal wires: K x N currents for K x M inputs v.
RowMatrixXd wire_free_currents(const devices::CellModel& cell, const RowMatrixXd& g_s, const RowMatrixXd& v);

// The array solved (Newton, one input per solve) for K x M inputs: K x N column currents.
// `solves` (optional) receives the summary's Newton iterations.
RowMatrixXd array_currents(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           std::shared_ptr<const devices::CellModel> cell, const RowMatrixXd& v,
                           const solvers::SolverOptions& solver, solvers::SolveSummary* summary = nullptr);

// The map at the operating input v_op (M volts). options.anderson_depth 0 means the default
// of kNonlinearAndersonDepth here (the plain iteration is slower for series cells).
constexpr int kNonlinearAndersonDepth = 5;
Compensation compensate_nonlinear(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                                  std::shared_ptr<const devices::CellModel> cell,
                                  const Eigen::VectorXd& v_op, const CompensationOptions& options,
                                  const solvers::SolverOptions& solver);

}  // namespace xbar::calib
