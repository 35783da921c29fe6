"""Platform contracts: hotcache reads no private interpreter names where it can do without, and
its extension declares to a free-threaded CPython (3.13t, 3.14t) that it needs the GIL.

(The call-slot detail of the native decorator type has its own file, test_call_path.py; the
coroutine marker of async cached methods is tested in test_decorators_async.py.)
"""
from __future__ import annotations

import ast
import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import hotcache
from hotcache._spec import call as spec_call

__all__: list = []

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(hotcache.__file__).resolve().parent
WHEEL_TEST = os.environ.get("HOTCACHE_WHEEL_TEST") == "1"

# Private names of the standard library hotcache still reads, each with why there is no other way
# (all read with a default, so their absence only changes what is said in the reason).
ALLOWED_PRIVATE = {
    ("asyncio.coroutines", "_is_coroutine"):
        "asyncio.iscoroutinefunction's marker on Python 3.9-3.11 (no public API before 3.12's "
        "inspect.markcoroutinefunction); read with getattr and a default",
}


def _stdlib(name: str) -> bool:
    top = name.split(".")[0]
    names = getattr(sys, "stdlib_module_names", None)  # Python >= 3.10
    if names is not None:
        return top in names
    import importlib.util

    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    origin = spec.origin or ""
    return origin in ("built-in", "frozen") or origin.startswith(sysconfig.get_paths()["stdlib"])


def _private_reads(path: Path):
    """(module, name, line) for every private attribute of a standard-library module that the
    file reads: ``mod._x``, ``from mod import _x``, ``getattr(mod, "_x", ...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _stdlib(a.name):
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _stdlib(node.module):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield node.module, a.name, node.lineno

    def dotted(node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in aliases:
            return ".".join([aliases[node.id]] + parts[::-1])
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            mod = dotted(node.value)
            if mod is not None:
                yield mod, node.attr, node.lineno
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and node.args[1].value.startswith("_")
              and not node.args[1].value.startswith("__")):
            mod = dotted(node.args[0])
            if mod is not None:
                yield mod, node.args[1].value, node.lineno


def test_no_private_stdlib_names_but_the_listed_ones():
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for mod, name, line in _private_reads(path):
            if (mod, name) not in ALLOWED_PRIVATE:
                found.append("%s:%d: %s.%s" % (path.name, line, mod, name))
    assert found == []


def test_the_scan_finds_private_reads(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import functools, inspect as insp\nfrom asyncio import _x\n"
                   "a = functools._make_key\nb = getattr(insp, '_is_coroutine_mark', None)\n"
                   "c = functools.partial\n")
    assert sorted(_private_reads(src)) == [("asyncio", "_x", 2), ("functools", "_make_key", 3),
                                           ("inspect", "_is_coroutine_mark", 4)]


# -- functools.lru_cache's key rule, written out (functools._make_key is private) ----------------

class _Counted:
    """Hashes like its value, counting hash() calls."""

    def __init__(self, v):
        self.v = v
        self.hashes = 0

    def __hash__(self):
        self.hashes += 1
        return hash(self.v)

    def __eq__(self, other):
        return isinstance(other, _Counted) and other.v == self.v


_CALLS = [((), {}), ((1,), {}), ((1.0,), {}), (("a",), {}), ((1, 2), {}), (((1, 2),), {}),
          ((1,), {"b": 2}), ((), {"a": 1, "b": 2}), ((), {"b": 2, "a": 1}), ((1, 2.0), {}),
          ((True,), {}), ((1,), {"a": 1.0}), ((None,), {}), ((frozenset(),), {})]


@pytest.mark.parametrize("typed", [False, True])
def test_make_key_partitions_calls_like_functools(typed):
    """Two calls get equal keys from hotcache's rule exactly when functools.lru_cache itself
    treats them as the same call (checked through a real lru_cache, not its private helper)."""
    hits = []

    @functools.lru_cache(maxsize=None, typed=typed)
    def ref(*args, **kwargs):
        return len(hits)

    keys = []
    for args, kwargs in _CALLS:
        keys.append(spec_call._make_key(args, kwargs, typed))
        hits.append(ref(*args, **kwargs))
    for i in range(len(_CALLS)):
        for j in range(len(_CALLS)):
            same_ref = hits[i] == hits[j]
            assert (keys[i] == keys[j] and hash(keys[i]) == hash(keys[j])) is same_ref, (_CALLS[i], _CALLS[j])


def test_make_key_hashes_each_argument_once():
    a, b = _Counted(1), _Counted(2)
    key = spec_call._make_key((a,), {"k": b}, False)
    for _ in range(3):
        hash(key)
    assert (a.hashes, b.hashes) == (1, 1)
    assert spec_call._make_key((7,), {}, False) == 7 and spec_call._make_key(("s",), {}, False) == "s"
    with pytest.raises(TypeError):
        spec_call._make_key(([],), {}, False)


def test_cache_info_is_functools_named_tuple():
    @hotcache.lru_cache(maxsize=4)
    def f(x):
        return x

    @functools.lru_cache(maxsize=4)
    def g(x):
        return x

    assert type(f.cache_info()) is type(g.cache_info())
    assert f.cache_info()._fields == ("hits", "misses", "maxsize", "currsize")


# -- free-threaded CPython: the extension declares that it needs the GIL -----------------------

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.skipif(not FREE_THREADED, reason="not a free-threaded interpreter (Py_GIL_DISABLED unset)")
def test_free_threaded_interpreter_reenables_the_gil():
    """On 3.13t/3.14t importing the extension turns the GIL back on (with a RuntimeWarning),
    because its module declares Py_mod_gil = Py_MOD_GIL_USED."""
    code = ("import sys, warnings\n"
            "assert not sys._is_gil_enabled()\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import hotcache._native.core\n"
            "assert sys._is_gil_enabled(), 'the GIL stayed off'\n"
            "print([str(x.message) for x in w])\n")
    env = dict(os.environ)
    env.pop("PYTHON_GIL", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
    assert "GIL" in proc.stdout, proc.stdout


def _generated_c():
    path = ROOT / "src" / "hotcache" / "_native" / "core.c"
    return path if path.is_file() else None


@pytest.mark.skipif(sys.version_info < (3, 13), reason="Py_mod_gil exists from CPython 3.13 on")
@pytest.mark.skipif(WHEEL_TEST, reason="HOTCACHE_WHEEL_TEST=1: an installed wheel, no C compiler")
def test_generated_module_declares_gil_used_on_free_threaded_builds():
    """No free-threaded interpreter here, so the check is on the C the extension is built from:
    preprocessed as for a free-threaded build (Py_GIL_DISABLED defined) against this
    interpreter's headers, the module's slots hold {Py_mod_gil, Py_MOD_GIL_USED} and never
    Py_MOD_GIL_NOT_USED."""
    source = _generated_c()
    if source is None:
        pytest.skip("src/hotcache/_native/core.c not generated (an installed package, not a source build)")
    cc = shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC") else "cc") \
        or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to preprocess with")
    include = sysconfig.get_paths()["include"]

    def preprocess(text_or_path, *extra):
        args = [cc, "-E", "-P", "-DPy_GIL_DISABLED", "-I" + include, "-I" + str(ROOT / "csrc"), *extra]
        if isinstance(text_or_path, Path):
            proc = subprocess.run(args + [str(text_or_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        else:
            proc = subprocess.run(args + ["-x", "c", "-"], input=text_or_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    values = preprocess('#include <Python.h>\nHC_SLOT Py_mod_gil HC_USED Py_MOD_GIL_USED HC_NOT Py_MOD_GIL_NOT_USED\n')
    m = re.search(r"HC_SLOT\s+(.+?)\s+HC_USED\s+(.+?)\s+HC_NOT\s+(.+?)\s*$", values, re.S | re.M)
    assert m, values[-500:]
    slot, used, not_used = (re.escape(" ".join(g.split())) for g in m.groups())
    text = " ".join(preprocess(source).split())
    pair = r"\{\s*%s\s*,\s*%s\s*\}"
    assert re.search(pair % (slot, used), text), "no {Py_mod_gil, Py_MOD_GIL_USED} slot in the module"
    assert not re.search(pair % (slot, not_used), text), "the module claims it runs without the GIL"
