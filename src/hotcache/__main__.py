"""`python -m hotcache`: command-line entry point.  `bench` compares hotcache with dict and
the peer caches that are installed (see hotcache.bench); `advise TRACE` is the sizing advisor
(hotcache.sizing.cli); with no command, prints usage."""

import argparse
import sys


def _parser():
    p = argparse.ArgumentParser(prog="python -m hotcache",
                                description="hotcache command-line tools.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("bench", help="time hotcache against dict and installed peer caches",
                       description="Compare hotcache with dict, functools.lru_cache, "
                       "cachetools, cachebox and lru-dict (those installed). Table on "
                       "stdout, progress on stderr. About 60 s; --quick about 20 s.")
    b.add_argument("--quick", action="store_true", help="fewer rounds, shorter Zipf trace")
    b.add_argument("--rounds", type=int, metavar="N",
                   help="interleaved rounds per micro-benchmark (long loops: min(N, 3))")
    b.add_argument("--json", metavar="FILE", help="also write every sample to FILE as JSON")
    from hotcache.sizing.cli import add_parser
    add_parser(sub)
    return p


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "bench":
        if args.rounds is not None and args.rounds < 1:
            parser.error("--rounds must be >= 1")
        from hotcache.bench import run
        run(quick=args.quick, rounds=args.rounds, json_file=args.json)
        return 0
    if args.command == "advise":
        from hotcache.sizing.cli import run as advise
        return advise(args, parser)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
