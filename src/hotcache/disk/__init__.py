"""hotcache.disk: a cache in a local directory (LMDB), shared by the processes of one host.

``DiskCache(path, maxsize="10GB", ttl=None, serializer="json", secret=None, trusted=False)`` is a
MutableMapping persisted on disk, bounded in bytes (engine overhead included), with per-entry
TTLs, approximate-LRU eviction and AES-GCM sealing by option. Needs ``pip install 'hotcache[disk]'``
(the lmdb package).
"""
from ._store import CorruptedError
from .cache import DiskCache, DiskStats

__all__ = ["CorruptedError", "DiskCache", "DiskStats"]
