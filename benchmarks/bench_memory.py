"""bench_memory.py -- memory overhead per LRU entry, one fresh subprocess per library.

The measurement itself is benchmarks/memory.py (run it directly for a table with repeats);
here each library is one benchmark in the group "memory" whose extra_info carries
bytes_per_entry (the time shown is just that of the subprocess: import, fill, measure).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory  # noqa: E402  (benchmarks/memory.py)

N = int(os.environ.get("HOTCACHE_BENCH_MEMORY_N", memory.N_DEFAULT))


@pytest.mark.parametrize("lib", memory.LIBS)
def test_memory_per_entry(benchmark, memory_rows, lib):
    benchmark.group = "memory: %d int->int entries (see extra_info.bytes_per_entry)" % N
    res = benchmark.pedantic(memory.measure, args=(lib, N), rounds=1, iterations=1)
    if "skipped" in res:
        pytest.skip("%s: %s" % (lib, res["skipped"]))
    benchmark.extra_info.update(res)
    memory_rows.append(res)
