"""Which call path the decorators' native type uses (hotcache._native.core.CALL_PATH), and that the
slower generic path, taken where a CPython detail it relies on is missing, is equally correct.

The native path replaces CachedCall's tp_call and its ``__call__`` slot wrapper's ``d_wrapped``
(src/hotcache/_native/call.pxi) after checking both at import; HOTCACHE_GENERIC_CALL=1 forces the
generic path (Cython's own tp_call). The decorator suites are run once more under it, in a
subprocess, so both paths are tested on every interpreter.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import hotcache
from hotcache._native import core as _core
from hotcache.memo import cached, cachedmethod, lru_cache

__all__: list = []

TESTS = Path(__file__).resolve().parents[1]
FORCED = os.environ.get("HOTCACHE_GENERIC_CALL", "") not in ("", "0")
# where the native path is expected: CPython whose header is known to have the field (see _native/call.pxi)
KNOWN = platform.python_implementation() == "CPython" and sys.version_info < (3, 15)


def _wrapper_types():
    """The types of the sync wrappers the decorators make on the native type, plus a user
    subclass (``lru_cache(maxsize=0)``'s wrapper has a Python ``__call__`` of its own)."""
    class Mine(_core.CachedCall):
        pass

    class Svc:
        @cachedmethod(maxsize=4)
        def m(self, x):
            return x

    wrappers = [
        cached(hotcache.LRUCache(4))(lambda x: x),
        cached(hotcache.LRUCache(4), info=True)(lambda x: x),
        cached(maxsize=4, ttl=60)(lambda x: x),
        lru_cache(lambda x: x),
        lru_cache(maxsize=None, typed=True)(lambda x: x),
        Svc().m.__func__,
        Mine(lambda x: x, hotcache.LRUCache(4), lambda k, a, kw: None),
    ]
    return [type(w) for w in wrappers]


def test_call_path_matches_the_environment():
    if FORCED:
        assert _core.CALL_PATH == "generic: HOTCACHE_GENERIC_CALL is set"
    elif KNOWN:
        assert _core.CALL_PATH == "native"
    else:
        pytest.skip("native call path not expected on %s %s: %s"
                    % (platform.python_implementation(), platform.python_version(), _core.CALL_PATH))
    native = _core.CALL_PATH == "native"
    types = _wrapper_types()
    assert all(issubclass(t, _core.CachedCall) for t in types), types
    assert [_core._has_native_call(t) for t in types] == [native] * len(types)
    assert _core._has_native_call(_core.CachedCall) is native


def test_has_native_call_needs_a_type():
    with pytest.raises(TypeError):
        _core._has_native_call(len)
    assert _core._has_native_call(int) is False


@pytest.mark.skipif(FORCED, reason="already running under HOTCACHE_GENERIC_CALL=1")
def test_generic_call_path_passes_the_decorator_suites():
    """The generic path (forced) passes what the native one does: CachedCall against its twin
    op for op, functools' lru_cache corner cases, the sync and async decorator suites."""
    files = ["native/test_call_path.py", "native/test_cached_call_native.py", "memo/test_lru_cache_compat.py",
             "memo/test_decorators.py", "memo/test_decorators_async.py"]
    env = dict(os.environ, HOTCACHE_GENERIC_CALL="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    cmd += [str(TESTS / name) for name in files]
    proc = subprocess.run(cmd, cwd=str(TESTS.parent), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    tail = "\n".join(proc.stdout.splitlines()[-40:])
    assert proc.returncode == 0, tail
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last, last
    print("HOTCACHE_GENERIC_CALL=1:", last)
