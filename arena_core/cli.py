"""python -m arena_core ...: the same core the dashboard uses, for scripts and terminals.

Exit codes: 0 ok; 1 check found problems or training failed; 2 usage or input error, printed
as one 'error: ...' line on stderr (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Any

from .errors import ArenaError
from .store import SessionStore

# Each module adds its subcommands with register(subparsers); one concern per module.
COMMAND_MODULES = ("arena_core.cli_core", "arena_core.cli_jobs", "arena_core.cli_legacy")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one 'error:' line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m arena_core", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="sessions folder (default: $ARENA_HOME or ./arena_home)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command group not installed in this build
            if exc.name != name:
                raise
            continue
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
