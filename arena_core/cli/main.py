"""python -m arena_core ...: the same core the dashboard uses, for scripts and terminals.

Exit codes: 0 ok; 1 check found problems or training failed; 2 usage or input error, printed
as one 'error: ...' line on stderr (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import logging
import sys

from arena_core.cli import (
    benchmark_commands,
    job_commands,
    legacy_commands,
    model_commands,
    session_commands,
)
from arena_core.cli.output import EXIT_USAGE
from arena_core.errors import ArenaError
from arena_core.store.session_store import SessionStore

# Each module adds its subcommands with register(subparsers); one concern per module.
COMMAND_MODULES = (
    session_commands,
    job_commands,
    legacy_commands,
    benchmark_commands,
    model_commands,
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one 'error:' line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arena", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="sessions folder (default: $ARENA_HOME or ./arena_home)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    store = SessionStore(args.home)
    try:
        return int(args.func(args, store) or 0)
    except ArenaError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr
        )
        return EXIT_USAGE


def run() -> None:
    """Entry point of the ``arena`` console script (same as ``python -m arena_core``)."""
    sys.exit(main())
