#!/usr/bin/env bash
# Installs every dependency from Debian 12's archive, builds xbar (Release, -O2), makes
# `import xbar` work for Debian's python3 and runs the main job on a built-in example: `xbar
# check` of a random 64 x 64 array with 2.5 ohm wire segments, solved natively and by ngspice
# in-process, printing agreement and times.
# Usage: scripts/setup.sh            (as root, or with sudo available)
#        XBAR_SKIP_APT=1 scripts/setup.sh   (packages already installed: build + example only)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git   # toolchain (git only stamps the version)
  libeigen3-dev                          # sparse/dense matrices
  libsuitesparse-dev                     # CHOLMOD, KLU, AMD, METIS (SuiteSparse 5.12)
  libopenblas0-pthread                   # threaded BLAS for CHOLMOD's supernodes
  libngspice0-dev ngspice                # in-process ngspice referee, and `ngspice -b`
  libboost-program-options-dev           # CLI flags and INI files
  nlohmann-json3-dev                     # result.json
  doctest-dev                            # tests
  python3 python3-numpy                  # tests read/write .npy with NumPy as a referee
  libopenmpi-dev openmpi-bin             # `mpirun -np K xbar sweep` (CMake XBAR_WITH_MPI)
  python3-matplotlib                     # PNG plots: scripts/plot_sweep.py, xbar optimize's pareto.png
  time                                   # /usr/bin/time -v for peak-memory figures in bench/
  clang libclang-rt-14-dev               # libFuzzer + ASan/UBSan runtimes: tests/fuzz (scripts/test.sh)
  libtorch-dev                           # libtorch 1.13 (C++): `xbar train`, model.pt files (issue 6)
  zlib1g-dev                             # zlib: reads Fashion-MNIST's gzipped IDX files
  libblas-dev                            # cblas.h: tile products via dgemm (OpenBLAS above at run time)
  dataset-fashion-mnist                  # Fashion-MNIST in /usr/share/datasets/fashion-mnist (train/evaluate, tests)
  python3-dev pybind11-dev               # the Python package's extension (python/, `import xbar`)
  python3-torch                          # xbar.torch: PyTorch models on crossbar tiles (same libtorch 1.13)
  python3-pytest                         # the Python package's tests (scripts/test.sh via ctest)
  python3-optuna                         # design-space search (`xbar optimize`: NSGA-II, TPE, SQLite storage)
)

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ "${XBAR_SKIP_APT:-0}" != 1 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

# `import xbar` for Debian's python3 with no PYTHONPATH: a .pth file in its site directory
# (/usr/local/lib/python3.11/dist-packages) names the package's sources and the built extension.
SITE=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
$SUDO mkdir -p "$SITE"
printf '%s\n%s\n' "$PWD/python" "$PWD/build/python" | $SUDO tee "$SITE/xbar.pth" >/dev/null
/usr/bin/python3 -c 'import xbar; print("import xbar " + xbar.__version__ + ": ok")'
./build/xbar check --rows 64 --cols 64 --r-row 2.5 --r-col 2.5 --out build/example
