"""bench_ops.py -- pytest-benchmark: hotcache beside dict and the peer caches, per scenario.

One group per scenario, so `pytest benchmarks/ --benchmark-only` shows every library of a
scenario in one table.  Each round is one whole loop of the shape a user would write (the loops
are hotcache.bench.caches', the same ones `python -m hotcache bench` times), over 100k keys for the
micro-benchmarks and over the 1M-request Zipf trace for cache-aside: divide a round's time by
the op count in the group name for ns/op.  Missing peers are skipped; functools.lru_cache runs
`f(k)` where it applies.  The garbage collector is off inside rounds (see conftest.py).
"""
import pytest

from hotcache.bench import caches as hb

ROUNDS = 20
ZIPF_ROUNDS = 3
ZIPF_LEN = 1_000_000

LIBS, NOTES = hb.load_contenders()
BY_NAME = {lib.name: lib for lib in LIBS}


def libs_for(policy, call_api=True):
    return [pytest.param(lib, id=lib.name) for lib in LIBS
            if lib.has(policy) and (lib.mapping or call_api)]


@pytest.fixture(scope="session")
def keysets():
    return hb.make_keys(hb.N_KEYS)


@pytest.fixture(scope="session")
def trace():
    return hb.zipf_trace(ZIPF_LEN)


def _full(lib, policy, keys):
    return hb._fill(lib, policy, keys, len(keys))


def _orders(keys, n=4, seed=hb.SEED + 1):
    """n lookup orders of the same key objects, rotated round by round: one fixed order would
    let an LRU list's move-to-front prefetch the next lookups (see hotcache.bench.caches._rotating)."""
    import random
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        order = list(keys)
        rng.shuffle(order)
        out.append(order)
    return out


def _rotating_setup(c, orders):
    """pytest-benchmark `setup`: the cache and the next order, as the loop's arguments."""
    next_order = hb._rotating(orders)
    return lambda: ((c, next_order()), {})


@pytest.fixture(scope="session")
def hit_orders(keysets):
    return _orders(keysets[1])


@pytest.fixture(scope="session")
def miss_orders(keysets):
    return _orders(keysets[2])


@pytest.mark.parametrize("lib,policy", [
    pytest.param(lib, pol, id="%s-%s" % (pol, lib.name))
    for pol in hb.POLICIES for lib in LIBS if lib.has(pol)])
def test_get_hit(benchmark, keysets, hit_orders, lib, policy):
    """c[k] on a full 100k cache, keys in shuffled order (lru_cache: f(k))."""
    c = _full(lib, policy, keysets[0])
    loop = hb.loop_getitem if lib.mapping else hb.loop_call
    benchmark.group = "get hit %s: c[k], full 100k, shuffled (100k ops/round)" % policy
    benchmark.pedantic(loop, setup=_rotating_setup(c, hit_orders), rounds=ROUNDS, iterations=1,
                       warmup_rounds=1)


@pytest.mark.parametrize("lib", libs_for("LRU", call_api=False))
def test_get_method_hit(benchmark, keysets, hit_orders, lib):
    c = _full(lib, "LRU", keysets[0])
    benchmark.group = "get() hit LRU: c.get(k), full 100k (100k ops/round)"
    benchmark.pedantic(hb.loop_get, setup=_rotating_setup(c, hit_orders), rounds=ROUNDS,
                       iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("lib", libs_for("LRU", call_api=False))
def test_get_miss(benchmark, keysets, miss_orders, lib):
    c = _full(lib, "LRU", keysets[0])
    benchmark.group = "get miss LRU: c.get(k) of absent keys, full 100k (100k ops/round)"
    benchmark.pedantic(hb.loop_get, setup=_rotating_setup(c, miss_orders), rounds=ROUNDS,
                       iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("lib", libs_for("LRU", call_api=False))
def test_update(benchmark, keysets, hit_orders, lib):
    c = _full(lib, "LRU", keysets[0])
    benchmark.group = "update LRU: c[k] = k on existing keys, full 100k (100k ops/round)"
    benchmark.pedantic(hb.loop_setitem, setup=_rotating_setup(c, hit_orders), rounds=ROUNDS,
                       iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("lib", libs_for("LRU"))
def test_set_evict(benchmark, keysets, lib):
    """Fresh keys into a full LRU of 100k: every store evicts.  Rounds alternate two fresh key
    sets, so each round starts full of keys it does not store.  dict: a copy of the full dict
    per round, which grows (a plain insert)."""
    keys, fresh_a, fresh_b = keysets[0], keysets[3], keysets[4]
    benchmark.group = "set evict LRU: c[k] = k, fresh keys, full 100k (100k ops/round)"
    loop = hb.loop_setitem if lib.mapping else hb.loop_call
    if lib.name == "dict":
        base = _full(lib, "LRU", keys)

        def setup():
            return (base.copy(), fresh_a), {}
    else:
        c = _full(lib, "LRU", keys)
        turn = [0]

        def setup():
            turn[0] += 1
            return (c, fresh_a if turn[0] % 2 else fresh_b), {}
    benchmark.pedantic(loop, setup=setup, rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("frac", [10, 1])
@pytest.mark.parametrize("lib", libs_for("LRU"))
def test_zipf_cache_aside(benchmark, trace, lib, frac):
    """v = c.get(k); if v is None: c[k] = compute(k), over the Zipf(0.99) trace, cold cache
    each round (dict: unbounded).  extra_info.hit_ratio is measured from compute's calls."""
    cap = hb.ZIPF_KEYS * frac // 100
    benchmark.group = ("zipf cache-aside LRU cap %d%%: 1M keys, %d requests/round"
                       % (frac, len(trace)))
    state = {}

    def setup():
        compute, calls = hb.make_compute()
        state["calls"] = calls
        if lib.mapping:
            return (lib.make("LRU", cap), trace, compute), {}
        return (lib.make("LRU", cap)(compute), trace), {}

    loop = hb.loop_aside if lib.mapping else hb.loop_call
    benchmark.pedantic(loop, setup=setup, rounds=ZIPF_ROUNDS, iterations=1)
    benchmark.extra_info["hit_ratio"] = 1.0 - state["calls"][0] / len(trace)
