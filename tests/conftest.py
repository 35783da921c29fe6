"""Fixtures shared by the whole hotcache test suite (helpers that are not fixtures: tests/helpers.py).

Every behavioural test runs twice: against "core" (the public ``hotcache`` classes, backed by the
C extension ``hotcache._native.core``) and against "pure" (``hotcache._spec``, the pure-Python twin and
test oracle).  The "core" parameter FAILS, never skips, when the extension cannot be imported:
in CI the extension is always built, so a missing extension is a bug.
"""

from __future__ import annotations

import os
import sys

import pytest

try:  # the installed package wins; fall back to the source tree for local runs
    import hotcache  # noqa: F401
except ImportError:  # pragma: no cover - only without an install / PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

# Redis fixtures (redis_server, fresh_redis, redis_cluster, redis_client): throwaway servers on
# free loopback ports; under CI a missing redis-server fails the test instead of skipping it.
pytest_plugins = ["conftest_redis"]

try:
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    _hsettings.register_profile("dev", deadline=None)
    _hsettings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")
except ImportError:  # pragma: no cover
    pass

from helpers import CLASS_NAMES, IMPLS, NOTES, FakeTimer, _load, classes  # noqa: E402


@pytest.fixture(params=IMPLS)
def impl(request):
    _load(request.param)  # fails here for a missing extension
    return request.param


@pytest.fixture(params=CLASS_NAMES)
def name(request):
    return request.param


@pytest.fixture
def cls(impl, name):
    return classes(impl)[name]


@pytest.fixture
def fake_timer():
    return FakeTimer()


# -- Python 3.9: a current event loop in the main thread, as a program has before asyncio.run() ---

if sys.version_info < (3, 10):
    import asyncio

    @pytest.fixture(autouse=True)
    def _main_thread_event_loop():
        """On 3.9 an asyncio primitive made outside a running loop binds the main thread's
        current event loop (redis-py's asyncio client makes an ``asyncio.Lock`` in its
        constructor), and there is none left once an earlier test's ``asyncio.run()`` has
        finished: it sets it to None, and 3.9 then raises "There is no current event loop"
        instead of making one. Each test starts as a 3.9 program does before its first
        ``asyncio.run()``: with a current, not running, loop of its own."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        yield
        asyncio.set_event_loop(None)
        loop.close()


# -- notes printed at the end of the run -----------------------------------------------------------

def pytest_terminal_summary(terminalreporter):
    if NOTES:
        terminalreporter.section("hotcache test notes")
        for line in NOTES:
            terminalreporter.write_line(line)
