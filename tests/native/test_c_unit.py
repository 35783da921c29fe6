"""Runs the C core's unit tests (csrc/, built with ASan+UBSan by `make -C csrc test`).

Fails, never skips, when make or a C compiler is missing: CI always has them. The one exception:
HOTCACHE_WHEEL_TEST=1 (set only where an installed wheel is tested, e.g. cibuildwheel's test step
and .ci/wheel_proof.sh), where neither the C sources' toolchain nor a compiler is expected."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRC = os.path.join(ROOT, "csrc")

pytestmark = pytest.mark.skipif(
    os.environ.get("HOTCACHE_WHEEL_TEST") == "1",
    reason="HOTCACHE_WHEEL_TEST=1: testing an installed wheel, no make/C compiler expected",
)


def _tail(text, lines=80):
    return "\n".join(text.splitlines()[-lines:])


def test_c_core_unit_tests():
    make = shutil.which("make")
    if make is None:
        pytest.fail("`make` is not installed: the C unit tests cannot run", pytrace=False)
    cc = os.environ.get("CC", "cc").split()[0]
    if shutil.which(cc) is None and shutil.which("gcc") is None and shutil.which("clang") is None:
        pytest.fail("no C compiler (%s/gcc/clang) found: the C unit tests cannot run" % cc, pytrace=False)
    assert os.path.isfile(os.path.join(CSRC, "Makefile")) or os.path.isfile(os.path.join(CSRC, "makefile")), (
        "no Makefile in %s" % CSRC
    )
    try:
        proc = subprocess.run(
            [make, "-C", "csrc", "test"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
        pytest.fail("`make -C csrc test` timed out after 600 s; output tail:\n" + _tail(out), pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            "`make -C csrc test` exited with %d; output tail:\n%s" % (proc.returncode, _tail(proc.stdout)),
            pytrace=False,
        )
    # sanitizer reports don't always change the exit status: treat them as failures too
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in proc.stdout, "sanitizer report in the C unit test output:\n" + _tail(proc.stdout)
