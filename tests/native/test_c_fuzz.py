"""A bounded libFuzzer run of the C core against its reference model (`make -C csrc fuzz`).

csrc/fuzz/fuzz_core.c decodes random operation sequences (every policy, sized, byte-bounded and
timed entries, resize, clear, clone, allocation failures) and checks the core against a model with
hc_check() after every step; csrc/fuzz/README.md has the details and the command for long runs.
The run lasts HOTCACHE_FUZZ_SECONDS (default 60) seconds.

- Needs clang (libFuzzer ships with it; Debian: `apt-get install clang`). Under CI (CI=true) a
  missing clang FAILS the test; elsewhere it is skipped with that reason.
- Once per CI run, not once per interpreter: the fuzz target is plain C, so every interpreter
  would fuzz the same binary. HOTCACHE_FUZZ_PYTHON names the one interpreter that runs it (a
  version, "3.12" or "3.12.1"; "none" for nowhere); on the others the test is skipped, saying
  so. .ci/run exports it as the version it gives the full wheel proof; the GitHub workflow sets
  it per job. Without HOTCACHE_FUZZ_PYTHON (a local `python -m pytest`) it always runs.
- The fuzz binary carries its own sanitizer runtime: an LD_PRELOAD of gcc's libasan (the
  sanitized-extension job) is not passed on to it.
- HOTCACHE_WHEEL_TEST=1 (an installed wheel is tested, no compiler on PATH): skipped, like the C
  unit tests.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CSRC = os.path.join(ROOT, "csrc")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.skipif(
    os.environ.get("HOTCACHE_WHEEL_TEST") == "1",
    reason="HOTCACHE_WHEEL_TEST=1: testing an installed wheel, no C compiler expected",
)


def _tail(text, lines=60):
    return "\n".join(text.splitlines()[-lines:])


def _seconds():
    raw = os.environ.get("HOTCACHE_FUZZ_SECONDS", "60")
    try:
        secs = int(raw)
    except ValueError:
        secs = 0
    if secs < 1:  # libFuzzer reads -max_total_time=0 as "no limit"
        pytest.fail("HOTCACHE_FUZZ_SECONDS must be a whole number >= 1, got %r" % raw, pytrace=False)
    return secs


def test_c_core_fuzz_bounded_run():
    only_on = os.environ.get("HOTCACHE_FUZZ_PYTHON")
    here = platform.python_version()
    if only_on and not (here == only_on or here.startswith(only_on + ".")):
        pytest.skip(
            "the fuzz run happens once per CI run, under CPython %s (HOTCACHE_FUZZ_PYTHON); this is %s"
            % (only_on, here)
        )
    clang = os.environ.get("FUZZ_CC", "clang")
    if shutil.which(clang) is None:
        msg = "%s is not installed: the libFuzzer run of the C core cannot run (Debian: apt-get install clang)" % clang
        if IN_CI:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    make = shutil.which("make")
    if make is None:
        pytest.fail("`make` is not installed: the fuzz target cannot be built", pytrace=False)
    secs = _seconds()
    env = dict(os.environ, HOTCACHE_FUZZ_SECONDS=str(secs), FUZZ_CC=clang)
    env.pop("LD_PRELOAD", None)
    try:
        proc = subprocess.run(
            [make, "-C", "csrc", "fuzz"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=secs + 600,  # building with sanitizers + libFuzzer's own shutdown
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode("utf-8", "replace")
        pytest.fail("`make -C csrc fuzz` did not finish in %d s; output tail:\n%s" % (secs + 600, _tail(out)), pytrace=False)
    out = proc.stdout
    if proc.returncode != 0:
        pytest.fail(
            "`make -C csrc fuzz` exited with %d (a crash input is saved as csrc/build/crash-*; "
            "replay it with `csrc/build/fuzz_core FILE`); output tail:\n%s" % (proc.returncode, _tail(out)),
            pytrace=False,
        )
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "fuzz_core:", "==ERROR"):
        assert marker not in out, "failure report in the fuzz output:\n" + _tail(out)
    done = re.search(r"^Done (\d+) runs in (\d+) second", out, re.M)
    assert done, "libFuzzer did not report its run count; output tail:\n" + _tail(out)
    runs = int(done.group(1))
    # the run really fuzzed: the seeds and then many more inputs (about 300/s on a loaded 2-core box)
    assert runs >= 50 * min(secs, 10), "only %d inputs in %s s:\n%s" % (runs, done.group(2), _tail(out))
