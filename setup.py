"""Declares the one extension module; all metadata lives in pyproject.toml."""
import glob
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

csrc = sorted(glob.glob(os.path.join("csrc", "*.c")))
if sys.platform == "win32":
    extra_compile_args = ["/O2"]
else:
    extra_compile_args = ["-O3", "-std=c99"]
    if os.environ.get("HOTCACHE_SANITIZE"):
        extra_compile_args = ["-O1", "-g", "-fno-omit-frame-pointer",
                              "-fsanitize=address,undefined"]
macros = [("NDEBUG", None)] if not os.environ.get("HOTCACHE_DEBUG") else [("HC_DEBUG", "1")]

ext = Extension(
    "hotcache._core",
    sources=["src/hotcache/_core.pyx", *csrc],
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
        },
    ),
)
