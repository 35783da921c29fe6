# JSON bytes to Python values for the common subset, without the stdlib's str copy: the disk
# tier's hit path (hotcache.disk._hit) decodes every record it promotes. Included by core.pyx.
#
# The stdlib's C scanner (json.JSONDecoder().scan_once) needs a str, so a record is sliced
# (copy 1) and decoded to text (copy 2), and every object key goes through its memo dict: ~960
# ns of a ~2.4 us disk read for a 57-byte dict (issue 15). json_scan reads the record's bytes in
# place from an offset and builds the same values: dict/list/str/int/float/True/False/None.
#
# THE SUBSET, and why the results are the stdlib's: what json_scan accepts is exactly RFC 8259
# text minus string escapes, control characters in strings, NaN/Infinity and numbers of 64 or
# more characters, nested at most 200 deep; for all of it json.loads builds equal values in
# the same order (str via strict UTF-8 decoding, ints via PyLong_FromString, floats via
# PyOS_string_to_double as float() does, later duplicate keys winning, leading whitespace
# refused as scan_once refuses it). Anything else raises ValueError (UnicodeDecodeError for
# bad UTF-8), and the caller decodes with the stdlib, which accepts or rejects it as always.
# No user code runs (keys are str), so nothing can re-enter.

from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.float cimport PyFloat_FromDouble
from cpython.long cimport PyLong_FromString
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcmp

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, PyObject *overflow_exception) except? -1.0

cdef enum:
    _JS_DEPTH = 200     # deeper nesting: the stdlib (and its recursion limit)
    _JS_NUMBER = 64     # longer numbers: the stdlib (and its int digit limit)


cdef inline Py_ssize_t _js_ws(const unsigned char *p, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and (p[i] == 32 or p[i] == 10 or p[i] == 13 or p[i] == 9):
        i += 1
    return i


cdef inline bint _js_digit(unsigned char c) noexcept:
    return 48 <= c <= 57


cdef object _js_string(const unsigned char *p, Py_ssize_t *at, Py_ssize_t n):
    """The string whose opening quote is at ``at[0]``; ``at[0]`` moves past its closing quote."""
    cdef Py_ssize_t start = at[0] + 1
    cdef Py_ssize_t i = start
    cdef unsigned char c
    while i < n:
        c = p[i]
        if c == 34:
            at[0] = i + 1
            return PyUnicode_DecodeUTF8(<const char *>p + start, i - start, NULL)
        if c == 92 or c < 32:
            raise ValueError("a string escape or control character (left to the stdlib)")
        i += 1
    raise ValueError("unterminated string")


cdef object _js_number(const unsigned char *p, Py_ssize_t *at, Py_ssize_t n):
    """The number at ``at[0]`` (the stdlib's grammar: -?(0|[1-9]\\d*)(\\.\\d+)?([eE][-+]?\\d+)?)."""
    cdef Py_ssize_t start = at[0]
    cdef Py_ssize_t i = start
    cdef Py_ssize_t j
    cdef bint is_float = False
    cdef char buf[_JS_NUMBER]
    if p[i] == 45:
        i += 1
    if i < n and p[i] == 48:
        i += 1
    elif i < n and 49 <= p[i] <= 57:
        i += 1
        while i < n and _js_digit(p[i]):
            i += 1
    else:
        raise ValueError("not a number (-Infinity is left to the stdlib)")
    if i + 1 < n and p[i] == 46 and _js_digit(p[i + 1]):
        is_float = True
        i += 2
        while i < n and _js_digit(p[i]):
            i += 1
    if i < n and (p[i] == 101 or p[i] == 69):
        j = i + 1
        if j < n and (p[j] == 43 or p[j] == 45):
            j += 1
        if j < n and _js_digit(p[j]):
            is_float = True
            i = j + 1
            while i < n and _js_digit(p[i]):
                i += 1
    if i - start >= _JS_NUMBER:
        raise ValueError("a long number (left to the stdlib)")
    memcpy(buf, p + start, i - start)
    buf[i - start] = 0
    at[0] = i
    if is_float:
        return PyFloat_FromDouble(PyOS_string_to_double(buf, NULL, NULL))
    return PyLong_FromString(buf, NULL, 10)


cdef object _js_value(const unsigned char *p, Py_ssize_t *at, Py_ssize_t n, int depth):
    """The value at ``at[0]`` (no whitespace before it); ``at[0]`` moves past it."""
    cdef Py_ssize_t i = at[0]
    cdef unsigned char c
    if i >= n:
        raise ValueError("no value")
    c = p[i]
    if c == 34:
        return _js_string(p, at, n)
    if c == 123 or c == 91:
        if depth >= _JS_DEPTH:
            raise ValueError("nested deeper than the fast path goes")
        return _js_object(p, at, n, depth + 1) if c == 123 else _js_array(p, at, n, depth + 1)
    if c == 45 or _js_digit(c):
        return _js_number(p, at, n)
    if c == 116 and i + 4 <= n and memcmp(p + i, b"true", 4) == 0:
        at[0] = i + 4
        return True
    if c == 102 and i + 5 <= n and memcmp(p + i, b"false", 5) == 0:
        at[0] = i + 5
        return False
    if c == 110 and i + 4 <= n and memcmp(p + i, b"null", 4) == 0:
        at[0] = i + 4
        return None
    raise ValueError("not in the fast subset")


cdef object _js_object(const unsigned char *p, Py_ssize_t *at, Py_ssize_t n, int depth):
    cdef dict d = {}
    cdef Py_ssize_t i = _js_ws(p, at[0] + 1, n)
    if i < n and p[i] == 125:
        at[0] = i + 1
        return d
    while True:
        if i >= n or p[i] != 34:
            raise ValueError("expected a key")
        at[0] = i
        key = _js_string(p, at, n)
        i = _js_ws(p, at[0], n)
        if i >= n or p[i] != 58:
            raise ValueError("expected ':'")
        at[0] = _js_ws(p, i + 1, n)
        d[key] = _js_value(p, at, n, depth)
        i = _js_ws(p, at[0], n)
        if i < n and p[i] == 44:
            i = _js_ws(p, i + 1, n)
        elif i < n and p[i] == 125:
            at[0] = i + 1
            return d
        else:
            raise ValueError("expected ',' or '}'")


cdef object _js_array(const unsigned char *p, Py_ssize_t *at, Py_ssize_t n, int depth):
    cdef list out = []
    cdef Py_ssize_t i = _js_ws(p, at[0] + 1, n)
    if i < n and p[i] == 93:
        at[0] = i + 1
        return out
    while True:
        at[0] = i
        out.append(_js_value(p, at, n, depth))
        i = _js_ws(p, at[0], n)
        if i < n and p[i] == 44:
            i = _js_ws(p, i + 1, n)
        elif i < n and p[i] == 93:
            at[0] = i + 1
            return out
        else:
            raise ValueError("expected ',' or ']'")


def json_scan(data, Py_ssize_t start=0):
    """The value of the JSON text ``data[start:]`` (bytes, UTF-8), with nothing before or after
    it: what ``json.loads`` returns, for the subset described in _native/jsonscan.pxi. Raises
    ValueError (UnicodeDecodeError for bad UTF-8) for text outside the subset, valid or not:
    decode that with the json module."""
    if type(data) is not bytes:
        raise TypeError("json_scan takes bytes, not %s" % type(data).__name__)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if start < 0 or start > n:
        raise ValueError("start out of range")
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t at = start
    value = _js_value(p, &at, n, 0)
    if at != n:
        raise ValueError("data after the value")
    return value
