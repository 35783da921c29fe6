"""TTL with a fake clock: expired entries are invisible at once and reclaimed incrementally."""
from __future__ import annotations

import time

import pytest


def test_expired_entries_are_invisible(make_cache, clock):
    c = make_cache(timer=clock, ttl=10)
    c["default"] = 1
    c.set("short", 2, ttl=1)
    c.set("long", 3, ttl=100)
    c.set("diskcache-style", 4, expire=1)
    assert c["short"] == 2 and len(c) == 4
    clock.advance(1)  # expired once timer() >= set time + ttl
    assert "short" not in c and c.get("diskcache-style") is None
    with pytest.raises(KeyError):
        c["short"]
    with pytest.raises(KeyError):
        del c["short"]
    assert c.pop("short", "gone") == "gone"
    assert len(c) == 2 and sorted(c) == ["default", "long"]
    clock.advance(9)
    assert sorted(c) == ["long"] and len(c) == 1
    clock.advance(90)
    assert len(c) == 0 and list(c) == []


def test_pending_writes_respect_their_ttl(make_cache, clock):
    c = make_cache(timer=clock)
    with c._writer.io_lock:
        c.set("k", 1, ttl=5)
        assert c["k"] == 1
        clock.advance(5)
        assert "k" not in c


def test_ttl_zero_or_negative_removes(make_cache, clock):
    c = make_cache(timer=clock)
    c["k"] = 1
    c.set("k", 2, ttl=0)
    assert "k" not in c
    c["k"] = 1
    c.set("k", 2, ttl=-5)
    assert "k" not in c and len(c) == 0


def test_expire_removes_and_counts(make_cache, clock):
    c = make_cache(timer=clock)
    for i in range(2500):
        c.set(i, i, ttl=1 + i % 2)
    c["forever"] = 0
    c.flush()
    clock.advance(1)
    assert c.expire() == 1250
    assert len(c) == 1251
    assert c.expire(now=clock.now + 1) == 1250
    c.flush()
    assert c.stats().entries == 1 and c._store.check() == []


def test_writer_reclaims_expired_entries_incrementally(make_cache, clock):
    c = make_cache(timer=clock, interval=0.02)
    for i in range(600):
        c.set(i, i, ttl=5)
    c.flush()
    assert c.stats().entries == 600
    clock.advance(5)
    deadline = time.monotonic() + 10
    while c.stats().entries and time.monotonic() < deadline:
        time.sleep(0.02)  # idle ticks sweep at most 256 per batch
    s = c.stats()
    assert s.entries == 0 and s.expirations == 600
    assert c._store.check() == []


def test_expired_entries_do_not_count_in_len_before_reclaim(make_cache, clock):
    c = make_cache(timer=clock, interval=60)
    for i in range(10):
        c.set(i, i, ttl=1)
    c.flush()
    clock.advance(2)
    assert len(c) == 0 and c.stats().entries == 10  # not reclaimed yet, already invisible
