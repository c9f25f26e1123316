// Compensation maps for flash arrays, in conductance-equivalent space.
//
//   RowMatrixXd vth = calib::flash_thresholds_for(cell, g_eq, v_read);        // exact inversion
//   calib::Compensation c = calib::compensate_flash(spec, g_eq, cell, v_op, opt, solver);
//   RowMatrixXd vth_map = calib::flash_thresholds_for(cell, c.g_s, v_read);  // program these
//
// A flash cell's per-cell value is its threshold V_th (devices/flash_cell.h). Its conductance
// equivalent at the read point is G = I_read(V_th) / v_read, I_read the cell's own read
// without wires: drain at v_read, source at 0 V, gate at its line's voltage. I_read falls
// strictly with V_th, so G <-> V_th is one-to-one (FlashCell::threshold_for_current inverts
// it) and the device window [g_min, g_max] in G is a window of thresholds. Targets, the map
// and its window all live in G; the circuit is built from V_th(G).
//
// The map at the operating input v_op (M volts; xbar: every row at v_read, where each target
// cell then carries exactly G v_read), as for the other nonlinear cells
// (calib/nonlinear_compensation.h): measure(G') = every cell's drain-to-source current in the
// array with thresholds V_th(G'), from one Newton solve at v_op (gate at its line's voltage,
// drain and source at the solved row and column nodes); target = s times the wire-free
// current of the target cells at v_op; next G' = G' target / I. In subthreshold the current
// at fixed terminal voltages is proportional to G (both go as e^{-V_th / (n V_T)}), so the
// step is exact per cell; in strong inversion it is a secant step, which Anderson
// acceleration mixes. Cells that would need more than g_max (a lower threshold than the
// window allows) or less than g_min are pinned and reported, never clipped silently.
#pragma once

#include <memory>

#include "calib/compensation.h"
#include "devices/flash_cell.h"

namespace xbar::calib {

// The thresholds whose wire-free read at v_read_v carries g_eq v_read_v (each g_eq > 0, finite;
// the gate of cell (i, j) at its line's voltage). Throws xbar::InputError naming the cell.
RowMatrixXd flash_thresholds_for(const devices::FlashCell& cell, const RowMatrixXd& g_eq_s, double v_read_v);

// The conductance equivalents of thresholds vth_v at v_read_v: I_read / v_read_v.
RowMatrixXd flash_conductance_equivalent(const devices::FlashCell& cell, const RowMatrixXd& vth_v, double v_read_v);

// The map in G for targets g_target_eq_s (inside options.range) at the operating input v_op
// (M volts, each > 0); v_read_v is the read point that defines G. options.anderson_depth 0
// means kNonlinearAndersonDepth (nonlinear_compensation.h).
Compensation compensate_flash(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_eq_s,
                              std::shared_ptr<const devices::FlashCell> cell, const Eigen::VectorXd& v_op,
                              double v_read_v, const CompensationOptions& options,
                              const solvers::SolverOptions& solver);

}  // namespace xbar::calib
