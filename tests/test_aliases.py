"""The module names of the flat layout stay importable: each is a thin alias of the package the
code moved to, exporting the same public names (the very same objects), and nothing else."""
from __future__ import annotations

import importlib

import pytest

# old name -> (its public names, pinned as they were before the move; where they live now)
ALIASES = {
    "hotcache.decorators": (
        ["CacheInfo", "cached", "cachedmethod", "lru_cache"],
        "hotcache.memo",
    ),
    "hotcache.redis_tier": (
        ["AsyncRedisTier", "AsyncTieredCache", "RedisTier", "TieredCache", "TieredStats"],
        "hotcache.tiers",
    ),
    "hotcache.redis_patterns": (
        ["RedisLock", "AsyncRedisLock", "LockError", "LockNotOwnedError", "LockTimeoutError",
         "RateLimiter", "AsyncRateLimiter", "RateLimitResult", "ALGORITHMS"],
        "hotcache.redis",
    ),
}


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_old_module_name_exports_the_same_objects(old):
    names, new = ALIASES[old]
    alias = importlib.import_module(old)
    home = importlib.import_module(new)
    assert sorted(alias.__all__) == sorted(names)
    for name in names:
        assert getattr(alias, name) is getattr(home, name), (old, name)


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_alias_is_thin(old):
    """No code of its own: every public attribute is the new home's, and the module defines no
    function or class (so nothing can drift apart)."""
    alias = importlib.import_module(old)
    own = [name for name, value in vars(alias).items()
           if not name.startswith("__") and getattr(value, "__module__", None) == old]
    assert not own, own


def test_public_paths_of_the_layout():
    """The documented import paths, each exporting what the docs name."""
    import hotcache
    import hotcache.breaker
    import hotcache.func
    import hotcache.keys
    import hotcache.memo
    import hotcache.patterns
    import hotcache.redis
    import hotcache.stats
    import hotcache.tiers

    assert hotcache.cached is hotcache.memo.cached and hotcache.CacheInfo is hotcache.memo.CacheInfo
    assert hotcache.patterns.get_or_set is hotcache._flight.get_or_set
    assert hotcache.tiers.TieredCache.__module__ == "hotcache.tiers.tiered"
    assert hotcache.tiers.RedisTier.__module__ == "hotcache.tiers.redis_sync"
    assert hotcache.tiers.AsyncRedisTier.__module__ == "hotcache.tiers.redis_async"
    with pytest.raises(AttributeError):
        hotcache.tiers.NoSuchTier  # noqa: B018
    for module in (hotcache, hotcache.memo, hotcache.patterns, hotcache.tiers, hotcache.redis,
                   hotcache.keys, hotcache.func, hotcache.stats, hotcache.breaker):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def test_hotcache_redis_never_shadows_redis_py(tmp_path):
    """``hotcache.redis`` and the tests' own ``tests/redis/`` folder are never taken for redis-py:
    with the tests folder first on sys.path (as pytest puts it) and from inside it, ``import
    redis`` is redis-py, and hotcache's Redis modules use redis-py."""
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("redis")
    tests = Path(__file__).resolve().parent
    code = ("import sys, os; sys.path.insert(0, %r); import hotcache.redis, hotcache.tiers.redis_io as io; "
            "import redis, redis.asyncio, redis.client; home = os.path.dirname(redis.__file__); "
            "assert redis.Redis and os.path.basename(os.path.dirname(home)) != 'hotcache' "
            "and home != os.path.join(%r, 'redis'), redis.__file__; "
            "assert io.OUTAGE[0].__module__ == 'redis.exceptions', io.OUTAGE; print(redis.__file__)"
            % (str(tests), str(tests)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tests), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
