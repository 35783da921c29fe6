"""SizingReport: recommend(), the table, the plots; the HyperLogLog's error bound."""
from __future__ import annotations

import builtins
import random
import sys

import pytest

from hotcache.bench.caches import zipf_trace
from hotcache.sizing import SizingReport, default_sizes, simulate
from hotcache.sizing import hll
from hotcache.sizing.simulate import _twin_sizer, new_sizer


def _report():
    return SizingReport([10, 20, 40, 80], {"lru": [0.1, 0.3, 0.5, 0.7], "tinylfu": [0.2, 0.3, 0.6, 0.65]},
                        1234.4, 1000, 100, 0.1, 4096)


def test_recommend():
    r = _report()
    assert r.recommend(0.15) == (10, "tinylfu")
    assert r.recommend(0.3) == (20, "lru")          # a tie goes to the first policy listed
    assert r.recommend(0.55) == (40, "tinylfu")
    assert r.recommend(0.7) == (80, "lru")
    assert r.recommend(0.71) is None
    assert r.recommend(0.0) == (10, "tinylfu")
    assert r.recommend(0.55, policy="lru") == (80, "lru")
    assert r.recommend(0.66, policy="tinylfu") is None


@pytest.mark.parametrize("target, policy, exc", [
    (1.5, None, ValueError), (-0.1, None, ValueError), ("0.5", None, TypeError), (True, None, TypeError),
    (0.5, "arc", ValueError)])
def test_recommend_bad_input(target, policy, exc):
    with pytest.raises(exc):
        _report().recommend(target, policy=policy)


def test_recommend_is_within_002_of_the_truth():
    """The issue's target: the size recommend() picks from a sampled run has a true (exact
    run's) hit ratio within 0.02 of the target."""
    trace = zipf_trace(300_000, nkeys=100_000, s=0.99, seed=21)
    sizes = [1000 * 2 ** i for i in range(7)]
    sampled = simulate(trace, sizes=sizes, sample=0.05)
    exact = simulate(trace, sizes=sizes, sample=1)
    for target in (0.4, 0.5, 0.6, 0.7):
        for policy in ("lru", "tinylfu", None):
            pick = sampled.recommend(target, policy=policy)
            assert pick is not None
            size, chosen = pick
            assert exact.hit_ratio[chosen][sizes.index(size)] >= target - 0.02, (target, policy, pick)


def test_table():
    text = str(_report())
    lines = text.splitlines()
    assert lines[1].split() == ["size", "lru", "tinylfu"]
    assert lines[3].split() == ["10", "0.1000", "0.2000"]
    assert lines[6].split() == ["80", "0.7000", "0.6500"]
    assert "working set ~1234 keys; 1000 requests, 100 simulated (sample rate 0.1)" in lines[-1]
    assert "SizingReport(sizes=[10, 20, 40, 80]" in repr(_report())


def test_svg(tmp_path):
    p = tmp_path / "c.svg"
    _report().plot(str(p))
    text = p.read_text()
    assert text.startswith("<svg") and text.count("<polyline") == 2 and "tinylfu" in text
    import xml.dom.minidom
    xml.dom.minidom.parseString(text)   # well-formed


def test_png(tmp_path):
    p = tmp_path / "c.png"
    _report().plot(str(p))
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    q = tmp_path / "c.out"
    _report().plot(str(q), format="svg")     # through matplotlib, by format
    assert b"<svg" in q.read_bytes()[:400]


def test_png_without_matplotlib(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(ImportError, match=r"hotcache\[plot\]"):
        _report().plot(str(tmp_path / "c.png"))
    _report().plot(str(tmp_path / "c.svg"))     # SVG needs nothing
    assert (tmp_path / "c.svg").exists()


def test_default_sizes():
    assert default_sizes(1000) == [125, 250, 500, 1000, 2000, 4000, 8000]
    assert default_sizes(1) == [1, 2, 4, 8]
    for bad in (0, 0.5, float("inf"), float("nan"), "10"):
        with pytest.raises(ValueError):
            default_sizes(bad)


# -- HyperLogLog --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 100, 10_000, 200_000, 3_000_000])
def test_hll_error_bound(n):
    """Relative error under 2 % (the issue's target; the standard error is 0.81 %) on five
    disjoint key sets of each size, through the native registers."""
    for seed in range(5):
        s = new_sizer(1.0, [1], [])
        base = seed * 10 ** 10
        s.feed(range(base, base + n))
        s.feed(range(base, base + n // 2))           # repeats change nothing
        est = s.report().working_set
        assert abs(est - n) <= max(0.02 * n, 0.5), (n, seed, est)


def test_hll_python_and_native_registers_agree():
    keys = [random.Random(3).random() for _ in range(20_000)] + ["a", ("b", 1), -1, -2]
    a = new_sizer(1.0, [1], [])
    b = _twin_sizer(1.0, [1], [])
    a.feed(keys)
    b.feed(keys)
    assert a.registers() == b.registers()
    assert hll.count_distinct(hash(k) for k in keys) == a.report().working_set


def test_hll_empty_and_saturated():
    assert hll.estimate(bytes(hll.M)) == 0.0
    assert hll.M < hll.estimate(bytes([1]) * hll.M) < 2 * hll.M
    assert hll.estimate(bytes([hll.Q + 1]) * hll.M) == float("inf")
