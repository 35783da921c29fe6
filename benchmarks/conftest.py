"""benchmarks/conftest.py -- collect bench_*.py, GC off in timed loops, memory table summary.

`pytest benchmarks/ --benchmark-only` collects bench_*.py here (the project's pytest settings
collect test_*.py), turns the garbage collector off inside every timed round and prints the
memory rows recorded by bench_memory.py at the end.
"""
import fnmatch

import pytest

_memory_rows = []


def pytest_collect_file(file_path, parent):
    name = file_path.name
    if file_path.suffix != ".py" or not fnmatch.fnmatch(name, "bench_*.py"):
        return None
    if any(fnmatch.fnmatch(name, pat) for pat in parent.config.getini("python_files")):
        return None  # already collected by the project's own settings
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest's python plugin collects it already
    return pytest.Module.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.fspath.basename.startswith("bench_") and not item.get_closest_marker("benchmark"):
            item.add_marker(pytest.mark.benchmark(disable_gc=True))


@pytest.fixture(scope="session")
def memory_rows():
    return _memory_rows


def pytest_terminal_summary(terminalreporter):
    if not _memory_rows:
        return
    tr = terminalreporter
    tr.section("memory: RSS growth per entry beyond key/value objects (fresh process each)")
    base = next((r["bytes_per_entry"] for r in _memory_rows if r["library"] == "dict"), None)
    for r in _memory_rows:
        tr.write_line("%-12s %8.1f B/entry %s" % (
            r["library"], r["bytes_per_entry"],
            "(%.2fx dict)" % (r["bytes_per_entry"] / base) if base else ""))
