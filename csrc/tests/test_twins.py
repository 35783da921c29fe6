"""test_twins.py -- the C core's S3FIFO and TINYLFU against their pure-Python twins, op for op.

The core is loaded as a shared library (make -C csrc twins builds build/libhc.so with ASan off,
-O1 -g) through ctypes and driven the way the binding drives it: lookups (hc_touch / hc_miss),
stores that evict until the entry fits (hc_evict_keep, then hc_insert or hc_update), deletes,
popitem (hc_victim + hc_remove_victim), resizes (hc_set_limits + evictions), clears, clones
and a pickle-style rebuild (hc_policy_order/restore + hc_policy_state_save/load). The twins
(src/hotcache/_spec/policy_s3fifo.py, policy_tinylfu.py) get the same calls through their policy
protocol. After every step: the same victims, the same keys, the same policy order and aux,
the same region bounds and shares, the same sketch estimates / ghost answers for every key
seen, the same jitter counter, and hc_check() plus the twin's check() pass.

    python csrc/tests/test_twins.py [LIBHC] [--quick]

Hypothesis drives short random programs (it shrinks a failure to a minimal one); seeded long
runs drive deep states (the sketch halves, the ghost sweeps, the regions adapt).
"""

import ctypes as C
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))

from hotcache._spec.policy_s3fifo import S3FIFO  # noqa: E402
from hotcache._spec.sketch import uhash  # noqa: E402
from hotcache._spec.policy_tinylfu import TinyLFU  # noqa: E402

UNBOUNDED = (1 << 64) - 1
HC_NIL = 0xFFFFFFFF
S3FIFO_KIND, TINYLFU_KIND = 5, 6


class Config(C.Structure):
    _fields_ = [("policy", C.c_int), ("max_size", C.c_uint64), ("max_bytes", C.c_uint64),
                ("seed", C.c_uint64), ("tick", C.c_double)]


class Info(C.Structure):
    _fields_ = [("q_weight", C.c_uint64 * 3), ("q_len", C.c_uint32 * 3), ("q_max", C.c_uint64 * 3),
                ("ghost_words", C.c_uint64), ("ghost_sample", C.c_uint64),
                ("sketch_capacity", C.c_uint64), ("protect_share", C.c_double)]


def load(path):
    lib = C.CDLL(path)
    P, U32, U64, D, I, S = C.c_void_p, C.c_uint32, C.c_uint64, C.c_double, C.c_int, C.c_size_t
    sig = {
        "hc_new": (P, [C.POINTER(Config)]), "hc_free": (None, [P]), "hc_clone": (P, [P]),
        "hc_touch": (None, [P, U32]), "hc_miss": (None, [P, U64]),
        "hc_over": (I, [P, U64, U64]),
        "hc_evict_keep": (U32, [P, D, I, C.POINTER(I), U32]),
        "hc_insert": (U32, [P, U64, U64, U64, D]), "hc_update": (None, [P, U32, U64, U64, D]),
        "hc_prepare_update": (I, [P, U64, U64, D]),
        "hc_remove": (None, [P, U32]), "hc_remove_victim": (None, [P, U32]),
        "hc_victim": (U32, [P]), "hc_set_limits": (None, [P, U64, U64]), "hc_clear": (None, [P]),
        "hc_len": (S, [P]), "hc_entry_size": (U64, [P, U32]), "hc_entry_bytes": (U64, [P, U32]),
        "hc_policy_order": (S, [P, C.POINTER(U32), C.POINTER(U64)]),
        "hc_policy_restore": (I, [P, C.POINTER(U32), C.POINTER(U64), S]),
        "hc_policy_state_size": (S, [P]), "hc_policy_state_save": (None, [P, P]),
        "hc_policy_state_load": (I, [P, P, S]),
        "hc_policy_info_get": (None, [P, C.POINTER(Info)]),
        "hc_policy_frequency": (U32, [P, U64]),
        "hc_rng_state": (U64, [P]), "hc_rng_set_state": (None, [P, U64]),
        "hc_check": (I, [P, C.c_char_p, S]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


class Core:
    """The C core driven like the binding drives it; keys are Python ints."""

    def __init__(self, lib, kind, bound, maxmemory, seed, handle=None):
        self.lib, self.kind = lib, kind
        cfg = Config(kind, UNBOUNDED if bound is None else bound,
                     UNBOUNDED if maxmemory is None else maxmemory, seed, 0.0)
        self.cfg = cfg
        self.c = handle if handle is not None else lib.hc_new(C.byref(cfg))
        assert self.c
        self.slot = {}
        self.key_of = {}

    def close(self):
        self.lib.hc_free(self.c)

    def _drop(self, s):
        k = self.key_of.pop(s)
        del self.slot[k]
        return k

    def _room(self, add_size, add_bytes, keep):
        out, cause = [], C.c_int()
        while self.lib.hc_over(self.c, add_size, add_bytes):
            s = self.lib.hc_evict_keep(self.c, -math.inf, 1, C.byref(cause), keep)
            if s == HC_NIL:
                break
            out.append(self._drop(s))
        return out

    def get(self, key):
        s = self.slot.get(key)
        if s is not None:
            self.lib.hc_touch(self.c, s)
            return True
        self.lib.hc_miss(self.c, uhash(hash(key)))
        return False

    def set(self, key, size, nbytes):
        s = self.slot.get(key)
        if s is not None:
            osize, obytes = self.lib.hc_entry_size(self.c, s), self.lib.hc_entry_bytes(self.c, s)
            out = self._room(max(0, size - osize), max(0, nbytes - obytes), s)
            assert self.lib.hc_prepare_update(self.c, size, nbytes, math.inf) == 0
            self.lib.hc_update(self.c, s, size, nbytes, math.inf)
            return out
        out = self._room(size, nbytes, HC_NIL)
        s = self.lib.hc_insert(self.c, uhash(hash(key)), size, nbytes, math.inf)
        assert s != HC_NIL
        self.slot[key] = s
        self.key_of[s] = key
        return out

    def delete(self, key):
        s = self.slot.get(key)
        if s is not None:
            self.lib.hc_remove(self.c, s)
            self._drop(s)

    def popitem(self):
        s = self.lib.hc_victim(self.c)
        if s == HC_NIL:
            return None
        k = self._drop(s)
        self.lib.hc_remove_victim(self.c, s)
        return k

    def resize(self, bound, maxmemory):
        self.lib.hc_set_limits(self.c, UNBOUNDED if bound is None else bound,
                               UNBOUNDED if maxmemory is None else maxmemory)
        self.cfg.max_size = UNBOUNDED if bound is None else bound
        self.cfg.max_bytes = UNBOUNDED if maxmemory is None else maxmemory
        return self._room(0, 0, HC_NIL)

    def clear(self):
        self.lib.hc_clear(self.c)
        self.slot.clear()
        self.key_of.clear()

    def order(self):
        n = self.lib.hc_len(self.c)
        out, aux = (C.c_uint32 * (n + 1))(), (C.c_uint64 * (n + 1))()
        assert self.lib.hc_policy_order(self.c, out, aux) == n
        return [self.key_of[out[i]] for i in range(n)], [aux[i] for i in range(n)]

    def info(self):
        i = Info()
        self.lib.hc_policy_info_get(self.c, C.byref(i))
        return i

    def check(self):
        msg = C.create_string_buffer(256)
        assert self.lib.hc_check(self.c, msg, 256) == 0, msg.value.decode()

    def clone(self):
        d = self.lib.hc_clone(self.c)
        assert d
        new = Core(self.lib, self.kind, None, None, 0, handle=d)
        new.cfg = Config(self.cfg.policy, self.cfg.max_size, self.cfg.max_bytes, self.cfg.seed, 0.0)
        new.slot, new.key_of = dict(self.slot), dict(self.key_of)
        return new

    def rebuild(self):
        """A pickle round trip: a fresh core, the keys inserted again, then policy order/aux,
        policy-wide state and the PRNG restored."""
        keys, aux = self.order()
        n = len(keys)
        size = self.lib.hc_policy_state_size(self.c)
        blob = C.create_string_buffer(size or 1)
        self.lib.hc_policy_state_save(self.c, blob)
        rng = self.lib.hc_rng_state(self.c)
        sizes = {k: (self.lib.hc_entry_size(self.c, s), self.lib.hc_entry_bytes(self.c, s))
                 for k, s in self.slot.items()}
        cfg = Config(self.cfg.policy, self.cfg.max_size, self.cfg.max_bytes, 0, 0.0)
        new = Core(self.lib, self.kind, None, None, 0, handle=self.lib.hc_new(C.byref(cfg)))
        new.cfg = cfg
        for k in sorted(keys, key=lambda k: hash(k) % 7):  # any order: restore decides
            s = self.lib.hc_insert(new.c, uhash(hash(k)), sizes[k][0], sizes[k][1], math.inf)
            assert s != HC_NIL
            new.slot[k], new.key_of[s] = s, k
        slots = (C.c_uint32 * (n + 1))(*[new.slot[k] for k in keys])
        auxa = (C.c_uint64 * (n + 1))(*aux)
        assert self.lib.hc_policy_restore(new.c, slots, auxa, n) == 0
        assert self.lib.hc_policy_state_load(new.c, blob, size) == 0
        if size > 8:  # a truncated or corrupted blob is refused and changes nothing
            assert self.lib.hc_policy_state_load(new.c, blob, size - 1) == -1
        self.lib.hc_rng_set_state(new.c, rng)
        return new


class K:
    __slots__ = ("key", "hash")

    def __init__(self, key):
        self.key, self.hash = key, hash(key)


class E:
    __slots__ = ("k", "size", "charge")

    def __init__(self, key, size, charge):
        self.k, self.size, self.charge = K(key), size, charge


def exceeds(used, add, mx):
    return used > mx or add > mx - used


class Twin:
    """The twin policy inside a minimal cache with the core's bounds arithmetic."""

    def __init__(self, kind, bound, maxmemory, seed):
        self.pol = S3FIFO(bound, maxmemory) if kind == S3FIFO_KIND else TinyLFU(bound, maxmemory, seed)
        self.bound, self.maxmemory = bound, maxmemory
        self.data = {}
        self.size_used = self.bytes_used = 0

    def over(self, add_size, add_bytes):
        return (exceeds(self.size_used, add_size, UNBOUNDED if self.bound is None else self.bound) or
                exceeds(self.bytes_used, add_bytes, UNBOUNDED if self.maxmemory is None else self.maxmemory))

    def _out(self, e, evicted):
        if evicted:
            self.pol.evict(e)
        else:
            self.pol.remove(e)
        del self.data[e.k.key]
        self.size_used -= e.size
        self.bytes_used -= e.charge
        return e.k.key

    def _room(self, add_size, add_bytes, protect):
        out = []
        while self.over(add_size, add_bytes):
            try:
                v = self.pol.victim(protect)
            except KeyError:
                break
            out.append(self._out(v, True))
        return out

    def get(self, key):
        e = self.data.get(key)
        if e is not None:
            self.pol.touch(e)
            return True
        self.pol.miss(hash(key))
        return False

    def set(self, key, size, nbytes):
        e = self.data.get(key)
        if e is not None:
            out = self._room(max(0, size - e.size), max(0, nbytes - e.charge), e)
            old = (e.size, e.charge)
            self.size_used += size - e.size
            self.bytes_used += nbytes - e.charge
            e.size, e.charge = size, nbytes
            if old != (size, nbytes):
                self.pol.charge(e, *old)
            self.pol.update(e)
            return out
        out = self._room(size, nbytes, None)
        e = E(key, size, nbytes)
        self.data[key] = e
        self.size_used += size
        self.bytes_used += nbytes
        self.pol.insert(e)
        return out

    def delete(self, key):
        e = self.data.get(key)
        if e is not None:
            self._out(e, False)

    def popitem(self):
        if not self.data:
            return None
        return self._out(self.pol.victim(), True)

    def resize(self, bound, maxmemory):
        self.bound, self.maxmemory = bound, maxmemory
        self.pol.limits(bound, maxmemory)
        return self._room(0, 0, None)

    def clear(self):
        self.pol.clear()
        self.data.clear()
        self.size_used = self.bytes_used = 0

    def clone(self):
        new = Twin.__new__(Twin)
        new.__dict__.update(self.__dict__)
        copies = {id(e): E(e.k.key, e.size, e.charge) for e in self.data.values()}
        new.data = {k: copies[id(e)] for k, e in self.data.items()}
        new.pol = self.pol.copy(lambda e: copies[id(e)])
        return new


def compare(core, twin, seen, step):
    """Everything observable agrees; sketch/ghost answers for the keys seen (a fixed sample of
    500 of them when there are more)."""
    where = "step %d" % step
    if len(seen) > 500:
        seen = random.Random(step).sample(sorted(seen), 500)
    core.check()
    twin.pol.check({id(e): e for e in twin.data.values()})
    keys, aux = core.order()
    assert keys == twin.pol.order(), (where, "order", keys, twin.pol.order())
    assert aux == twin.pol.aux(), (where, "aux", aux, twin.pol.aux())
    i, p = core.info(), twin.pol
    if core.kind == S3FIFO_KIND:
        assert (i.q_max[0], i.q_max[1]) == (p.small_max, p.main_max), where
        assert (i.q_weight[0], i.q_weight[1]) == (p.small_w, p.main_w), where
        assert i.ghost_words == p.ghost.count(), (where, "ghost", i.ghost_words, p.ghost.count())
        for k in seen:
            assert core.lib.hc_policy_frequency(core.c, uhash(hash(k))) == int(p.ghost.has(uhash(hash(k)))), (where, k)
    else:
        assert (i.q_max[0], i.q_max[2]) == (p.window_max, p.protect_max), (where, i.q_max[0], p.window_max, i.q_max[2], p.protect_max)
        assert i.protect_share == p.protect_share, (where, i.protect_share, p.protect_share)
        assert tuple(i.q_weight) == tuple(p.weights), where
        assert i.sketch_capacity == p.sketch.capacity, where
        assert i.ghost_sample == 1 << p.ghost_shift, where
        assert i.ghost_words == p.ghost.count(), (where, "ghost", i.ghost_words, p.ghost.count())
        assert core.lib.hc_rng_state(core.c) == p.rng, where
        for k in seen:
            assert core.lib.hc_policy_frequency(core.c, uhash(hash(k))) == p.sketch.estimate(uhash(hash(k))), (where, k)


def bounds_for(rng, mode):
    if mode == "large":  # big enough that the TINYLFU ghost samples (shift >= 1)
        return rng.randrange(17000, 30000), None
    if mode == "size":
        return rng.randrange(1, 40), None
    if mode == "bytes":
        return None, rng.randrange(50, 600)
    return rng.randrange(1, 40), rng.randrange(50, 600)


def run_program(lib, kind, seed, steps, nkeys, mode, check_every=1, big_hashes=False):
    """A seeded random program; compares after every `check_every` steps."""
    rng = random.Random(seed)
    bound, maxmemory = bounds_for(rng, mode)
    core, twin = Core(lib, kind, bound, maxmemory, seed), Twin(kind, bound, maxmemory, seed)
    seen = set()
    zipf = [1.0 / (r + 1) ** rng.choice((0.6, 0.9, 1.2)) for r in range(nkeys)]
    base = (1 << 62) + 12345 if big_hashes else 0
    try:
        for step in range(steps):
            key = base + rng.choices(range(nkeys), zipf)[0]
            op = rng.random()
            sized = mode != "size" or rng.random() < 0.2
            size = rng.randrange(0, 4) if sized else 1
            nbytes = rng.randrange(0, 60) if maxmemory is not None else 0
            if op < 0.45:
                assert core.get(key) == twin.get(key), step
            elif op < 0.90:
                if (bound is not None and size > bound) or (maxmemory is not None and nbytes > maxmemory):
                    continue  # the binding refuses these (ValueError) before the core
                a, b = core.set(key, size, nbytes), twin.set(key, size, nbytes)
                assert a == b, (step, "evicted", a, b)
                seen.add(key)
            elif op < 0.95:
                core.delete(key)
                twin.delete(key)
            elif op < 0.97:
                assert core.popitem() == twin.popitem(), step
            elif op < 0.985:
                bound, maxmemory = bounds_for(rng, mode)
                a, b = core.resize(bound, maxmemory), twin.resize(bound, maxmemory)
                assert a == b, (step, "resize evicted", a, b)
            elif op < 0.99:
                old, core = core, core.clone()
                old.close()
                twin = twin.clone()
            elif op < 0.995:
                old, core = core, core.rebuild()
                old.close()
            elif op < 0.997:
                core.clear()
                twin.clear()
            if step % check_every == 0:
                compare(core, twin, seen, step)
        compare(core, twin, seen, steps)
    finally:
        core.close()


def hypothesis_machine(lib, kind, examples):
    from hypothesis import settings, strategies as st
    from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, rule,
                                     run_state_machine_as_test)

    keys = st.integers(0, 24)

    class Machine(RuleBasedStateMachine):
        @initialize(bound=st.integers(1, 12), mem=st.one_of(st.none(), st.integers(20, 200)),
                    seed=st.integers(0, 2 ** 64 - 1))
        def start(self, bound, mem, seed):
            self.bound, self.mem = bound, mem
            self.core = Core(lib, kind, bound, mem, seed)
            self.twin = Twin(kind, bound, mem, seed)
            self.seen = set()

        def teardown(self):
            if hasattr(self, "core"):
                self.core.close()

        @rule(key=keys)
        def get(self, key):
            assert self.core.get(key) == self.twin.get(key)

        @rule(key=keys, size=st.integers(0, 3), nbytes=st.integers(0, 20))
        def set(self, key, size, nbytes):
            if size > self.bound or (self.mem is not None and nbytes > self.mem):
                return
            nbytes = nbytes if self.mem is not None else 0
            assert self.core.set(key, size, nbytes) == self.twin.set(key, size, nbytes)
            self.seen.add(key)

        @rule(key=keys)
        def delete(self, key):
            self.core.delete(key)
            self.twin.delete(key)

        @rule()
        def popitem(self):
            assert self.core.popitem() == self.twin.popitem()

        @rule(bound=st.integers(1, 12))
        def resize(self, bound):
            self.bound = bound
            assert self.core.resize(bound, self.mem) == self.twin.resize(bound, self.mem)

        @rule()
        def clone(self):
            old, self.core = self.core, self.core.clone()
            old.close()
            self.twin = self.twin.clone()

        @rule()
        def rebuild(self):
            old, self.core = self.core, self.core.rebuild()
            old.close()

        @rule()
        def clear(self):
            self.core.clear()
            self.twin.clear()

        @invariant()
        def same(self):
            if hasattr(self, "core"):
                compare(self.core, self.twin, self.seen, -1)

    run_state_machine_as_test(Machine, settings=settings(max_examples=examples, stateful_step_count=80,
                                                         deadline=None))


def main(argv):
    quick = "--quick" in argv
    paths = [a for a in argv if not a.startswith("--")]
    lib = load(paths[0] if paths else os.path.join(HERE, "..", "build", "libhc.so"))
    runs = 0
    for kind, name in ((S3FIFO_KIND, "s3fifo"), (TINYLFU_KIND, "tinylfu")):
        for mode in ("size", "bytes", "both"):
            for seed in range(3 if quick else 12):
                run_program(lib, kind, seed * 7 + kind, 1500, 60, mode, big_hashes=seed % 2 == 1)
                runs += 1
        # deep states: many requests over a larger key space, compared every 97 steps
        for seed in range(1 if quick else 3):
            run_program(lib, kind, 1000 + seed, 40000 if quick else 120000, 3000, "size", check_every=97)
            runs += 1
        # a large cache: the sketch at full size, the TINYLFU ghost sampling one victim in 2+
        run_program(lib, kind, 2000, 60000 if quick else 200000, 80000, "large", check_every=4999)
        runs += 1
        hypothesis_machine(lib, kind, 30 if quick else 150)
        print("%s: %d seeded programs and the Hypothesis machine agree with the twin" % (name, runs))
        runs = 0
    print("twins OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
