"""bench_decorators.py -- pytest-benchmark: cost of a cached call, hotcache's decorators beside
functools.lru_cache, cachetools.cached and cachebox.cached.

One group per scenario (hit / miss, 1 / 2 int args, async hit / miss), so every contender of a
scenario sits in one table.  The contenders, data and loops are benchmarks/decorators.py's (the
script that prints the interleaved best-round table): a hit round is 20,000 calls over 2,000
cached keys (maxsize 4,096), a miss round 8,192 never-seen keys on a full cache (miss + store
+ evict).  Divide a round by the call count in the group name for ns/call.  After the rounds,
each test checks that the function ran exactly as often as the scenario says (0 times per
hit round, once per call in a miss round).  Missing peers / hotcache decorators are left out.
"""
import asyncio
import importlib.util
import os

import pytest

_spec = importlib.util.spec_from_file_location(
    "_hotcache_bench_decorators", os.path.join(os.path.dirname(__file__), "decorators.py"))
db = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(db)

ROUNDS = 30

SYNC, ASYNC, NOTES = db.contenders()
UNCACHED = {"uncached call", "uncached await"}


@pytest.fixture(scope="session")
def data():
    return db.make_data()


@pytest.fixture(scope="module")
def event_loop_for_bench():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _params(entries, kind):
    return [pytest.param(name, factory, id=name) for name, factory, _ in entries
            if not (kind == "miss" and name == "functools.cache")]


def _run(benchmark, loop, data, name, factory, kind, nargs, is_async):
    funcs = db.make_functions()
    prepare = db.scenario(kind, nargs, is_async, data, funcs, loop)
    run = prepare(name, factory)
    n = db.HIT_CALLS if kind == "hit" else db.MISS_CALLS
    benchmark.group = "%s%s %d arg%s (%d calls/round)" % (
        "async " if is_async else "", kind, nargs, "s" if nargs > 1 else "", n)
    benchmark.extra_info["contender"] = name
    made = []

    def one_round():
        ns, m, _ = run()
        made.append(m)
        return ns

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    want = n if (kind == "miss" or name in UNCACHED) else 0
    assert set(made) == {want}, "%s: function calls per round %r, expected %d" % (
        name, sorted(set(made)), want)


@pytest.mark.parametrize("nargs", [1, 2])
@pytest.mark.parametrize("name,factory", _params(SYNC, "hit"))
def test_hit(benchmark, data, event_loop_for_bench, name, factory, nargs):
    _run(benchmark, event_loop_for_bench, data, name, factory, "hit", nargs, False)


@pytest.mark.parametrize("nargs", [1, 2])
@pytest.mark.parametrize("name,factory", _params(SYNC, "miss"))
def test_miss(benchmark, data, event_loop_for_bench, name, factory, nargs):
    _run(benchmark, event_loop_for_bench, data, name, factory, "miss", nargs, False)


@pytest.mark.parametrize("kind", ["hit", "miss"])
@pytest.mark.parametrize("name,factory", _params(ASYNC, "hit"))
def test_async(benchmark, data, event_loop_for_bench, name, factory, kind):
    _run(benchmark, event_loop_for_bench, data, name, factory, kind, 1, True)
