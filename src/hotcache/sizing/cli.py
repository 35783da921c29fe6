"""``python -m hotcache advise TRACE``: the sizing advisor over a trace file.

One key per line, or one column of a CSV file (``--column N``, counting from 0; ``--header``
skips the first line). ``-`` reads standard input. The table goes to standard output, progress
(every million keys) to standard error.
"""
from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import sys
import time
from typing import IO, Any, Iterator, List, Optional, Sequence

from .report import DEFAULT_POLICIES, POLICIES

__all__ = ["add_parser", "run", "read_keys"]

CHUNK = 1 << 20     # bytes of text read at a time


def add_parser(sub: Any) -> argparse.ArgumentParser:
    a = sub.add_parser(
        "advise", help="hit ratio by cache size and policy for a trace (the sizing advisor)",
        description="Replay TRACE (one key per line, or a CSV column) on miniature caches of "
        "each policy and print the predicted hit ratio at each cache size, with the working set "
        "(distinct keys). Progress goes to stderr.")
    a.add_argument("trace", metavar="TRACE", help="trace file, one key per line ('-': stdin)")
    a.add_argument("--column", type=int, metavar="N",
                   help="read the keys from column N (counting from 0) of a CSV file")
    a.add_argument("--header", action="store_true", help="skip the first line")
    a.add_argument("--sizes", nargs="+", metavar="SIZE",
                   help="cache sizes in entries (default: 12 sizes, x2 apart, up to the working set)")
    a.add_argument("--policies", nargs="+", metavar="POLICY",
                   help="policies to simulate, among %s (default: %s)" % (", ".join(POLICIES), " ".join(DEFAULT_POLICIES)))
    a.add_argument("--sample", type=float, metavar="R",
                   help="spatial sample rate in (0, 1] (default 1: exact); 0.01 is 100x cheaper")
    a.add_argument("--plot", metavar="FILE", help="also draw the curves to FILE (.svg; .png etc. need matplotlib)")
    a.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return a


def _split_sizes(values: Sequence[str]) -> List[int]:
    out = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                out.append(int(part))
    return out


def count_lines(path: str) -> Optional[int]:
    """Lines in the file at ``path`` (an upper bound of its keys: blank lines and a header
    count too), read in 1 MiB binary blocks, a small fraction of parsing them; None if it is
    not a regular file (a pipe can be read only once)."""
    try:
        if not os.path.isfile(path):
            return None
        n, last = 0, b"\n"
        with open(path, "rb") as fb:
            for block in iter(lambda: fb.read(1 << 20), b""):
                n += block.count(b"\n")
                last = block[-1:]
        return n + (last != b"\n")
    except OSError:
        return None


def read_keys(f: IO[str], column: Optional[int] = None, header: bool = False) -> Iterator[List[str]]:
    """The trace's keys, a batch (list of str) at a time: whole lines without their line end, or
    field ``column`` of each CSV row. Blank lines are skipped."""
    rest = ""
    first = header
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        text = rest + chunk
        cut = text.rfind("\n")
        if cut < 0:
            rest = text
            continue
        rest = text[cut + 1:]
        lines = text[:cut].splitlines()
        if first:
            lines = lines[1:]
            first = False
        yield _keys_of(lines, column)
    if rest:
        lines = [rest]
        if first:
            lines = []
        yield _keys_of(lines, column)


def _keys_of(lines: List[str], column: Optional[int]) -> List[str]:
    if column is None:
        return [s for s in lines if s] if "" in lines else lines
    out = []
    for n, row in enumerate(csv.reader(lines)):
        if not row:
            continue
        if column >= len(row):
            raise ValueError("a row has %d columns, fewer than --column %d needs: %r"
                             % (len(row), column, lines[n][:80]))
        out.append(row[column])
    return out


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: Optional[IO[str]] = None,
        err: Optional[IO[str]] = None) -> int:
    """Run ``advise``: 0 on success, 2 (with the reason on ``err``) on bad input."""
    from .simulate import simulate

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err

    if args.column is not None and args.column < 0:
        parser.error("--column must be >= 0")
    try:
        sizes = _split_sizes(args.sizes) if args.sizes else None
    except ValueError:
        parser.error("--sizes takes positive integers (entries)")
    policies = tuple(args.policies) if args.policies else DEFAULT_POLICIES
    t0 = time.perf_counter()
    tty = getattr(err, "isatty", lambda: False)()

    def progress(n: int) -> None:
        if not args.quiet:
            msg = "%12d keys read (%.1f s)" % (n, time.perf_counter() - t0)
            err.write(("\r" + msg) if tty else (msg + "\n"))
            err.flush()

    try:
        f = sys.stdin if args.trace == "-" else io.open(args.trace, "r", encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        err.write("advise: cannot read %s: %s\n" % (args.trace, exc.strerror or exc))
        return 2
    try:
        length = None if f is sys.stdin else count_lines(args.trace)
        keys = itertools.chain.from_iterable(read_keys(f, args.column, args.header))
        try:
            rep = simulate(keys, sizes=sizes, policies=policies, sample=args.sample,
                           progress=progress, every=1_000_000, length=length)
        except (ValueError, TypeError) as exc:
            if tty and not args.quiet:
                err.write("\n")
            err.write("advise: %s\n" % exc)
            return 2
    finally:
        if f is not sys.stdin:
            f.close()
    if tty and not args.quiet:
        err.write("\n")
    if not args.quiet:
        err.write("%d keys in %.2f s\n" % (rep.requests, time.perf_counter() - t0))
    out.write(str(rep) + "\n")
    if args.plot:
        try:
            rep.plot(args.plot)
        except ImportError as exc:
            err.write("advise: %s\n" % exc)
            return 2
        out.write("curves written to %s\n" % args.plot)
    return 0
