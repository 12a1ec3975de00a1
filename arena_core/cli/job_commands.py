"""Job subcommands: run (the worker itself), relaunch, resume, cancel, status."""

from __future__ import annotations

import argparse

from arena_core.cli.output import EXIT_OK, EXIT_PROBLEMS, emit_json
from arena_core.run import control
from arena_core.session.manifest import SessionStatus
from arena_core.store.records import JobStatus
from arena_core.store.session_store import SessionStore


def _all_completed(store: SessionStore, session_id: str) -> bool:
    info = control.session_status(store, session_id)
    return info["status"] == SessionStatus.COMPLETED and all(
        j["status"] == JobStatus.COMPLETED for j in info["jobs"]
    )


def cmd_run(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.run.worker import run_session

    status = run_session(store, args.session)
    print(f"{args.session}: {status.value}")
    return EXIT_OK if status is SessionStatus.COMPLETED else EXIT_PROBLEMS


def cmd_relaunch(args: argparse.Namespace, store: SessionStore) -> int:
    overrides = control.parse_overrides(args.set)
    child = control.relaunch(store, args.session, overrides, start=not args.no_start)
    code = EXIT_OK
    if args.wait and not args.no_start:
        control.wait(store, child, quiet=args.json)
        code = EXIT_OK if _all_completed(store, child) else EXIT_PROBLEMS
    info = control.session_status(store, child)
    if args.json:
        emit_json(
            {
                "id": child,
                "parent": args.session,
                "jobs": len(info["jobs"]),
                "status": info["status"],
            }
        )
    else:
        print(
            f"Relaunched {args.session} as {child} with {len(info['jobs'])} models ({info['status']})."
        )
    return code


def cmd_resume(args: argparse.Namespace, store: SessionStore) -> int:
    control.resume(store, args.session)
    if not args.wait:
        print(f"Resumed {args.session} (queued).")
        return EXIT_OK
    status = control.wait(store, args.session)
    print(f"{args.session}: {status.value}")
    return EXIT_OK if _all_completed(store, args.session) else EXIT_PROBLEMS


def cmd_cancel(args: argparse.Namespace, store: SessionStore) -> int:
    control.cancel(store, args.session, grace=args.grace)
    print(f"Cancelled {args.session}.")
    return EXIT_OK


def cmd_status(args: argparse.Namespace, store: SessionStore) -> int:
    info = control.session_status(store, args.session)
    if args.json:
        emit_json(info)
        return EXIT_OK
    done = sum(j["status"] == JobStatus.COMPLETED for j in info["jobs"])
    print(f"{info['session']}: {info['status']} ({done}/{len(info['jobs'])} models)")
    if info.get("reason"):
        print(f"  reason: {info['reason']}")
    for job in info["jobs"]:
        score = job["metrics"].get("macro_f1")
        extra = f" macro-F1 {score:.3f}" if isinstance(score, int | float) else ""
        if job["status"] == JobStatus.RUNNING and job.get("total_steps"):
            extra += f" step {job['step']}/{job['total_steps']}"
        if job.get("error"):
            extra += f" error: {job['error']}"
        print(f"  {job['id']:<40} {job['status']:<10}{extra}")
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="train a session in this process (the worker)")
    p.add_argument("session")
    p.set_defaults(func=cmd_run)

    p = subparsers.add_parser("relaunch", help="train again on the same data and split")
    p.add_argument("session")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a training setting, e.g. --set epochs=3 (repeatable)",
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the end; exit 1 unless all trained"
    )
    p.add_argument("--no-start", action="store_true", help="only create the new session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_relaunch)

    p = subparsers.add_parser("resume", help="continue an interrupted, failed or cancelled session")
    p.add_argument("session")
    p.add_argument(
        "--wait", action="store_true", help="wait for the end; exit 1 unless all trained"
    )
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser("cancel", help="stop a queued or running session")
    p.add_argument("session")
    p.add_argument("--grace", type=float, default=10.0, help="seconds before SIGKILL (default 10)")
    p.set_defaults(func=cmd_cancel)

    p = subparsers.add_parser("status", help="a session's status and its models")
    p.add_argument("session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
