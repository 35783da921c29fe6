"""``python -m hotcache advise TRACE``: the sizing advisor's command line."""
from __future__ import annotations

import subprocess
import sys

import pytest

from hotcache.__main__ import main
from hotcache.bench.caches import zipf_trace
from hotcache.sizing import simulate


@pytest.fixture(scope="module")
def keys():
    return [str(k) for k in zipf_trace(30_000, nkeys=5_000, s=0.9, seed=3)]


@pytest.fixture()
def trace_file(tmp_path, keys):
    p = tmp_path / "trace.txt"
    p.write_text("\n".join(keys) + "\n")
    return p


def _rows(text):
    """size -> [ratios] of the printed table."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].isdigit() and len(parts) > 1:
            out[int(parts[0])] = [float(x) for x in parts[1:]]
    return out


def test_table_matches_simulate(trace_file, keys, capsys):
    assert main(["advise", str(trace_file), "--sizes", "100,500", "2000", "--policies", "lru", "s3fifo"]) == 0
    out, err = capsys.readouterr()
    rep = simulate(keys, sizes=[100, 500, 2000], policies=("lru", "s3fifo"))
    assert _rows(out) == {s: [round(rep.hit_ratio[p][i], 4) for p in ("lru", "s3fifo")]
                          for i, s in enumerate(rep.sizes)}
    assert "working set" in out and "30000 requests" in out
    assert "30000 keys in" in err


def test_csv_column_and_header(tmp_path, keys, capsys):
    p = tmp_path / "trace.csv"
    p.write_text("time,object,size\n" + "".join("%d,%s,1\n" % (i, k) for i, k in enumerate(keys)))
    assert main(["advise", str(p), "--column", "1", "--header", "--sizes", "500", "--policies", "lru", "--quiet"]) == 0
    out, err = capsys.readouterr()
    rep = simulate(keys, sizes=[500], policies=("lru",))
    assert _rows(out) == {500: [round(rep.hit_ratio["lru"][0], 4)]}
    assert err == ""


def test_default_sizes_and_sample(trace_file, capsys):
    assert main(["advise", str(trace_file), "--sample", "0.5", "--quiet"]) == 0
    out, _ = capsys.readouterr()
    rows = _rows(out)
    assert len(rows) == 12 and all(len(v) == 5 for v in rows.values())
    assert "sample rate 1" in out         # 30k lookups: too short for the rate to fall


def test_progress_every_million(tmp_path, capsys):
    p = tmp_path / "long.txt"
    p.write_text("".join("%d\n" % (i % 1000) for i in range(2_000_001)))
    assert main(["advise", str(p), "--sizes", "10", "--policies", "fifo", "--sample", "0.01"]) == 0
    _, err = capsys.readouterr()
    assert "1000000 keys read" in err and "2000000 keys read" in err


def test_svg_plot(trace_file, tmp_path, capsys):
    svg = tmp_path / "curve.svg"
    assert main(["advise", str(trace_file), "--sizes", "100", "1000", "--quiet", "--plot", str(svg)]) == 0
    assert svg.read_text().startswith("<svg") and "s3fifo" in svg.read_text()


def test_png_plot(trace_file, tmp_path, capsys):
    png = tmp_path / "curve.png"
    assert main(["advise", str(trace_file), "--sizes", "100", "1000", "--quiet", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--sample", "0"], "sample rate"),
    (["--sample", "2"], "sample rate"),
    (["--policies", "mru"], "unknown policy"),
    (["--column", "3"], "columns"),
])
def test_bad_arguments(trace_file, capsys, argv, message):
    assert main(["advise", str(trace_file), "--quiet"] + argv) == 2
    assert message in capsys.readouterr().err


def test_empty_and_missing_files(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["advise", str(empty), "--quiet"]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["advise", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_parser_errors(trace_file, capsys):
    with pytest.raises(SystemExit):
        main(["advise", str(trace_file), "--sizes", "ten"])
    with pytest.raises(SystemExit):
        main(["advise", str(trace_file), "--column", "-1"])


def test_module_entry_point_and_stdin(keys):
    r = subprocess.run([sys.executable, "-m", "hotcache", "advise", "-", "--sizes", "100", "--policies", "lru"],
                       input="\n".join(keys[:2000]), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "2000 requests" in r.stdout
