"""The Cython binding of the C core: one extension module, ``hotcache._native.core``.

Layer 1 (see docs/architecture.md): it imports only the foundations (``hotcache._config``,
``hotcache.stats``); nothing here imports the public modules above it. ``core.pyx`` is the module
and includes the ``.pxi`` files (one concern each); ``hc.pxd`` mirrors ``csrc/hc.h``.
Importing this package does not load the extension: ``hotcache._native.core`` does.
"""
