"""Declares the one extension module; all metadata lives in pyproject.toml."""
import glob
import os
import sys

import Cython
from Cython.Build import cythonize
from setuptools import Extension, setup

# Free-threaded CPython (3.13t, 3.14t): the C core's atomicity relies on the GIL, so the module
# declares Py_mod_gil = Py_MOD_GIL_USED and such an interpreter turns the GIL back on at import
# (with a RuntimeWarning) instead of running it unsafely. Cython emits that slot from 3.1 on;
# the directive and the macro below pin it to "GIL used" (tests/test_platform.py checks the C).
if tuple(int(p) for p in Cython.__version__.split(".")[:2]) < (3, 1):
    sys.exit("hotcache needs Cython >= 3.1 to build (found %s): older Cython does not declare "
             "the module's GIL use to free-threaded CPython" % Cython.__version__)

csrc = sorted(glob.glob(os.path.join("csrc", "*.c")))
if sys.platform == "win32":
    extra_compile_args = ["/O2"]
else:
    extra_compile_args = ["-O3", "-std=c99"]
    if os.environ.get("HOTCACHE_SANITIZE"):
        extra_compile_args = ["-O1", "-g", "-fno-omit-frame-pointer",
                              "-fsanitize=address,undefined"]
macros = [("NDEBUG", None)] if not os.environ.get("HOTCACHE_DEBUG") else [("HC_DEBUG", "1")]
macros.append(("CYTHON_FREETHREADING_COMPATIBLE", "0"))

ext = Extension(
    "hotcache._native.core",
    sources=["src/hotcache/_native/core.pyx", *csrc],
    include_dirs=["csrc"],
    define_macros=macros,
    extra_compile_args=extra_compile_args,
    extra_link_args=["-fsanitize=address,undefined"] if os.environ.get("HOTCACHE_SANITIZE") else [],
)

setup(
    ext_modules=cythonize(
        [ext],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
            "freethreading_compatible": False,
        },
    ),
)
