"""hotcache._native.core.json_scan, the disk tier's JSON decoding: json.loads's values for its
subset, ValueError for everything else (valid or not), which the caller hands to json."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

json_scan = pytest.importorskip("hotcache._native.core").json_scan

SAME = [b'{"id":5,"name":"user-5","tags":["a","b","c"],"score":2.5}', b"[]", b"{}", b"0", b"-0",
        b"-0.0", b"1e5", b"1E+2", b"2.5e-3", b"123456789012345678901234567890", b"true", b"false",
        b"null", b'""', b'"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"', b'{ "a" : [ 1 , 2 ] , "a" : 3 }',
        b"[1.7976931348623157e308, 1e999, -1e999, 5e-324]", b'[[[[[[["deep"]]]]]]]']
OTHER = [b" 1", b"1 ", b"", b"[1,]", b'{"a":1,}', b"01", b"1.", b"-", b"NaN", b"Infinity",
         b"-Infinity", b'"a\\nb"', b'"tab\tin"', b'"\xed\xb2\x80"', b'"\xff"', b"[1] x", b"tru",
         b'{"a" 1}', b"[" * 300 + b"]" * 300, b"1" * 70, b"nul", b"{'a':1}"]


@pytest.mark.parametrize("text", SAME, ids=repr)
def test_the_stdlib_values(text):
    got, want = json_scan(text), json.loads(text)
    assert repr(got) == repr(want) and type(got) is type(want)


@pytest.mark.parametrize("text", OTHER, ids=lambda t: repr(t[:20]))
def test_the_rest_is_left_to_the_stdlib(text):
    with pytest.raises(ValueError):
        json_scan(text)


def test_offset_and_argument_checks():
    assert json_scan(b"\x00\x01HDR[1]", 5) == [1]
    with pytest.raises(ValueError):
        json_scan(b"[1]", 4)
    with pytest.raises(ValueError):
        json_scan(b"[1]", -1)
    with pytest.raises(TypeError):
        json_scan("[1]")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(values, st.booleans(), st.booleans())
def test_random_documents(value, compact, ascii):
    text = json.dumps(value, separators=(",", ":") if compact else None, ensure_ascii=ascii)
    data = text.encode("utf-8", "surrogatepass")
    try:
        got = json_scan(data)
    except ValueError:  # escapes, lone surrogates: json's part
        return
    want = json.loads(data)
    assert json.dumps(got, sort_keys=False) == json.dumps(want, sort_keys=False)
    if isinstance(want, float) and not math.isnan(want):
        assert got == want
