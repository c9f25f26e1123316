"""Shared by the Python package's tests: the `xbar` executable they compare against, and runs
of it in a scratch directory. The suite runs with Debian's python3 (scripts/test.sh, ctest's
python_tests): ``/usr/bin/python3 -m pytest python/tests -q``."""

import json
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XBAR = os.path.abspath(os.environ.get("XBAR_BINARY", os.path.join(ROOT, "build", "xbar")))


def run_cli(args, cwd, check=True):
    """`xbar ARGS...` in `cwd`: (exit status, stdout, stderr)."""
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    p = subprocess.run([XBAR] + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError("xbar %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode, p.stderr))
    return p.returncode, p.stdout, p.stderr


def cli_error(stderr, subcommand):
    """The message of `xbar SUB: error: MESSAGE` (what the Python exceptions must carry)."""
    prefix = "xbar %s: error: " % subcommand
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stderr
    return lines[0][len(prefix):]


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def rng():
    return np.random.default_rng(19)
