#!/bin/sh
# Rewrites the golden `--help` texts that tests/engine/cli/help_test.cc compares byte for byte:
#
#   tests/data/help/regenerate.sh build      # BUILD_DIR holding the xbar executable
#
# Run it only after a deliberate change to a key, a default or a help text, and review the
# diff (`git diff tests/data/help`) before committing it: these files are the CLI contract.
# The tool version (it names the git commit) is stored as @VERSION@.
set -eu
build=${1:?usage: tests/data/help/regenerate.sh BUILD_DIR}
here=$(dirname "$0")
xbar="$build/xbar"
version=$("$xbar" --version | cut -d' ' -f2)
mask() { sed "s/$version/@VERSION@/g"; }
"$xbar" --help | mask >"$here/xbar.txt"
for sub in netlist solve check program calibrate size sweep train evaluate transient ppa; do
  "$xbar" "$sub" --help | mask >"$here/$sub.txt"
done
# optimize's help is the Python module's (a build without the Python package has none).
if "$xbar" optimize --help >/dev/null 2>&1; then
  "$xbar" optimize --help | mask >"$here/optimize.txt"
fi
# Without a subcommand the general help goes to stderr (exit status 2).
{ "$xbar" 2>&1 >/dev/null || true; } | mask >"$here/no_arguments.txt"
