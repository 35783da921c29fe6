"""resize(maxmemory=...) on a cache created without a memory bound: every entry is charged at
that moment, then entries are evicted per policy until the charges fit; a failing or
cache-mutating sizeof changes nothing."""
import pytest

from helpers import classes

LIST_POLICIES = ["LRUCache", "FIFOCache", "Cache", "LFUCache"]


@pytest.mark.parametrize("name", LIST_POLICIES)
def test_adding_a_memory_bound_charges_and_evicts(impl, name):
    cls = classes(impl)[name]
    evicted = []
    c = cls(10, sizeof=lambda k, v: len(v), on_evict=lambda k, v, cause: evicted.append((k, cause)))
    for i in range(10):
        c[i] = "x" * (100 * i)
    order = c._policy_order()
    c.resize(maxmemory=2000)
    st = c.stats()
    charges = {k: 100 * k + 64 for k in range(10)}
    assert st.maxmemory == 2000
    assert st.memory_used == sum(charges[k] for k in c) <= 2000
    # evicted in policy order until the rest fits, all for "memory"
    gone = [k for k, _ in evicted]
    assert gone == order[: len(gone)]
    assert all(cause == "memory" for _, cause in evicted)
    assert sum(charges[k] for k in order[len(gone) - 1:]) > 2000
    c._check()


def test_failing_sizeof_changes_nothing(impl):
    c = classes(impl)["LRUCache"](10, sizeof=lambda k, v: 1 // 0 if k == 5 else 10)
    for i in range(10):
        c[i] = i
    def state():  # peek: no use, no hit
        return [(k, c.peek(k)) for k in c], c._policy_order(), c.stats()

    before = state()
    with pytest.raises(ZeroDivisionError):
        c.resize(maxmemory=100)
    assert state() == before
    c._check()
