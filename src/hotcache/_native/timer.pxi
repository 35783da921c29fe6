# The cache's clock. Included by core.pyx before Core; the pure twin is hotcache._spec.timer.Timer.
# cachetools' TTLCache wraps its timer the same way: ``cache.timer()`` reads it, ``with
# cache.timer as now:`` freezes it (nesting counts), other attributes forward to the wrapped timer.
# The default time.monotonic is read in C (hc_clock_monotonic) when that is the same clock.

cdef class Timer:
    """The cache's view of its timer: ``timer()`` reads it; ``with timer as t`` freezes it."""
    cdef object _fn
    cdef object _time
    cdef int _nesting
    cdef bint _native     # the default time.monotonic, read in C where that is the same clock

    def __init__(self, timer):
        self._fn = timer
        self._nesting = 0
        self._native = timer is _MONOTONIC and not isnan(hc_clock_monotonic())

    cdef inline object read(self):
        if self._nesting:
            return self._time
        return self._fn()

    cdef inline double read_f(self) except? -1.0:
        """The time as a double, without a Python call for the default clock."""
        if self._nesting:
            return _to_f(self._time)
        if self._native:
            return hc_clock_monotonic()
        return _to_f(self._fn())

    def __call__(self):
        return self.read()

    def __enter__(self):
        if self._nesting == 0:
            self._time = self._fn()
        self._nesting += 1
        return self._time

    def __exit__(self, *exc):
        self._nesting -= 1

    def __copy__(self):
        return Timer(self._fn)

    def __deepcopy__(self, memo):
        import copy
        return Timer(copy.deepcopy(self._fn, memo))

    def __reduce__(self):
        return Timer, (self._fn,)

    def __getattr__(self, name):
        return getattr(self._fn, name)

    def __repr__(self):
        return "Timer(%r)" % (self._fn,)
