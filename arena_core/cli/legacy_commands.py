"""Legacy subcommands: import-legacy (sessions of the previous tool) and repair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arena_core.cli.output import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, emit_json
from arena_core.store.session_store import SessionStore


def cmd_import_legacy(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.legacy.importer import import_legacy

    report = import_legacy(store, args.path, again=args.again)
    if args.json:
        emit_json(report.to_json())
    else:
        for session_id in report.imported:
            print(f"imported {session_id}")
            for note in report.notes.get(session_id, []):
                print(f"  note: {note}")
        for path, reason in report.skipped:
            print(f"skipped {path}: {reason}")
        for path, reason in report.unreadable:
            print(f"unreadable {path}: {reason}")
        if report.imported:
            print("Next: 'check ID' shows what is missing, 'repair ID' infers it.")
    return EXIT_PROBLEMS if report.unreadable else EXIT_OK


def cmd_repair(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.legacy import repair

    if args.dry_run:
        proposal = repair.propose(store, args.session)
    else:
        proposal = repair.propose(store, args.session)
        if not proposal.refused_reason:
            proposal = repair.apply(store, args.session)
    if args.json:
        emit_json(proposal.to_json())
    else:
        verb = "would infer" if args.dry_run else "inferred"
        print(f"{proposal.session}: {verb} {', '.join(proposal.inferred) or 'nothing'}")
        for name, value in proposal.inferred.items():
            print(f"  {name} = {value}")
            for reason in proposal.evidence.get(name, []):
                print(f"      because {reason}")
        for reason in proposal.evidence.get("labels", []):
            print(f"  labels {reason}")
        for note in proposal.notes:
            print(f"  note: {note}")
        if not proposal.refused_reason:
            state = "complete" if proposal.complete else "still INCOMPLETE"
            print(f"  {len(proposal.jobs)} models planned; session {state}.")
    if proposal.refused_reason:
        print(f"error: {proposal.refused_reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if proposal.complete else EXIT_PROBLEMS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-legacy", help="import sessions saved by the previous Training Arena tool"
    )
    p.add_argument("path", type=Path, help="a legacy session folder or a folder holding many")
    p.add_argument("--again", action="store_true", help="import folders already imported")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import_legacy)

    p = subparsers.add_parser("repair", help="infer missing strategy fields from the evidence")
    p.add_argument("session")
    p.add_argument("--dry-run", action="store_true", help="show what would be inferred")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_repair)
