"""Benchmark subcommands: benchmark (create, train, rank), benchmark-show, -list, -promote."""

from __future__ import annotations

import argparse
from typing import Any

from arena_core.cli.output import EXIT_OK, EXIT_PROBLEMS, emit_json
from arena_core.cli.session_commands import (
    add_dataset_options,
    add_model_options,
    dataset_options,
    session_settings,
)
from arena_core.errors import ArenaError
from arena_core.store.session_store import SessionStore

DEFAULT_MODELS = "tfidf,embed:minilm,tiny,minilm"


def parse_models(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


def parse_seeds(text: str, first: int) -> list[int]:
    """'3' -> three seeds from ``first`` on; '1,2,7' -> those seeds."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ArenaError(
            f"--seeds '{text}' must be a count (e.g. 3) or a list of seeds (e.g. 1,2,3)."
        ) from None
    if len(parts) == 1 and "," not in str(text):
        if not 1 <= numbers[0] <= 20:
            raise ArenaError(f"--seeds {numbers[0]}: give between 1 and 20 seeds.")
        return [first + i for i in range(numbers[0])]
    return numbers


def benchmark_json(store: SessionStore, bench) -> dict[str, Any]:
    """The documented --json output: id, member counts, split and the ranking per key."""
    from arena_core.run import benchmark as bm

    table = bm.ranking(store, bench.id, bench)
    split = next((rows[0]["split"] for rows in table.values() if rows), None)
    return {
        "id": bench.id,
        "name": bench.name,
        "models": bench.models,
        "seeds": bench.seeds,
        "members": {
            "total": len(bench.members),
            bm.FINISHED: bench.count(bm.FINISHED),
            bm.PENDING: bench.count(bm.PENDING),
            bm.FAILED: bench.count(bm.FAILED),
        },
        "split": split,
        "ranking": table,
    }


def print_ranking(store: SessionStore, bench) -> None:
    """A readable ranking: per key, the models best first with mean ± std and time."""
    from arena_core.run import benchmark as bm

    table = bm.ranking(store, bench.id, bench)
    split = next((rows[0]["split"] for rows in table.values() if rows), "validation")
    print(
        f"Benchmark {bench.name} ({bench.id}): {bench.count(bm.FINISHED)}/{len(bench.members)} "
        f"sessions finished, {bench.count(bm.FAILED)} failed; scores on the {split} split."
    )
    for key, rows in table.items():
        print(f"{key} ({bm.metric_name(bench.keys.get(key, ''))}):")
        for rank, row in enumerate(rows, 1):
            if row["score_mean"] is None:
                print(f"  -  {row['model']:<16} no finished seed yet ({row['n_pending']} pending)")
                continue
            languages = ", ".join(f"{k} {v:.3f}" for k, v in row["per_language"].items())
            print(
                f"  {rank}. {row['model']:<16} {row['score_mean']:.3f} ± {row['score_std']:.3f}"
                f"  {row['seconds']:.1f} s  {row['n_seeds']} seeds"
                + (f"  ({languages})" if languages else "")
            )


def cmd_benchmark(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.run import benchmark as bm
    from arena_core.session.create import prepare_from_file

    if args.model is not None:
        raise ArenaError("benchmark takes --models (comma-separated), not --model.")
    models, seeds = bm.check_candidates(
        parse_models(args.models), parse_seeds(args.seeds, args.seed)
    )
    args.model = models[0]  # session_settings validates the other settings with it
    prepared = prepare_from_file(args.data, dataset_options(args), session_settings(args))
    bench = bm.create_benchmark(store, prepared, models, seeds)
    if args.no_start:
        print(f"Created benchmark {bench.id}: {len(bench.members)} sessions, not started.")
        return EXIT_OK
    bm.launch_benchmark(store, bench.id)
    code = EXIT_OK
    if args.wait:

        def show(now) -> None:
            done = now.count(bm.FINISHED) + now.count(bm.FAILED)
            print(f"{now.id}: {done}/{len(now.members)} sessions ended", flush=True)

        bench = bm.wait_benchmark(store, bench.id, on_change=None if args.json else show)
        code = EXIT_OK if bench.count(bm.FINISHED) == len(bench.members) else EXIT_PROBLEMS
    if args.json:
        emit_json(benchmark_json(store, bm.load_benchmark(store, bench.id)))
    elif args.wait:
        print_ranking(store, bench)
    else:
        print(
            f"Benchmark {bench.id}: {len(bench.members)} sessions ({len(models)} models x "
            f"{len(seeds)} seeds) queued. See the ranking with 'python -m arena_core "
            f"benchmark-show {bench.id}' or on the Benchmark page."
        )
    return code


def cmd_show(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.run import benchmark as bm

    bench = bm.load_benchmark(store, args.benchmark)
    if args.json:
        emit_json(benchmark_json(store, bench))
    else:
        print_ranking(store, bench)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.run import benchmark as bm

    found = bm.list_benchmarks(store)
    if args.json:
        emit_json(
            [
                {
                    "id": b.id,
                    "name": b.name,
                    "models": b.models,
                    "seeds": b.seeds,
                    "created_at": b.created_at,
                    "finished": b.count(bm.FINISHED),
                    "total": len(b.members),
                }
                for b in found
            ]
        )
        return EXIT_OK
    if not found:
        print(
            "No benchmarks yet: start one with 'python -m arena_core benchmark DATA --models ...'."
        )
    for b in found:
        print(
            f"{b.id}  {b.name}  {', '.join(b.models)} x {len(b.seeds)} seeds  "
            f"{b.count(bm.FINISHED)}/{len(b.members)} finished"
        )
    return EXIT_OK


def cmd_promote(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.run import benchmark as bm

    session_id = bm.promote(store, args.benchmark, args.model, start=not args.no_start)
    if args.json:
        emit_json({"id": session_id, "benchmark": args.benchmark, "model": args.model})
    else:
        state = "created" if args.no_start else "queued"
        print(
            f"Promoted {args.model} of benchmark {args.benchmark} as session {session_id} "
            f"({state}); follow it with 'python -m arena_core status {session_id}'."
        )
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "benchmark", help="train several models x seeds on one split and rank them per key"
    )
    add_dataset_options(p)
    add_model_options(p)
    p.set_defaults(model=None)  # one model per member: --models instead, --model hidden
    for action in p._actions:  # argparse has no public way to hide an added option
        if action.dest == "model":
            action.help = argparse.SUPPRESS
    p.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        help=f"comma-separated candidates (default {DEFAULT_MODELS})",
    )
    p.add_argument(
        "--seeds", default="3", help="a count (seeds from --seed on, default 3) or a list: 1,2,3"
    )
    p.add_argument("--wait", action="store_true", help="wait for every session, then rank")
    p.add_argument("--no-start", action="store_true", help="only create the sessions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_benchmark)

    p = subparsers.add_parser("benchmark-show", help="a benchmark's ranking per key")
    p.add_argument("benchmark", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("benchmark-list", help="benchmarks, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser(
        "benchmark-promote", help="train a benchmark's model as a full session of its own"
    )
    p.add_argument("benchmark", metavar="ID")
    p.add_argument("model")
    p.add_argument("--no-start", action="store_true", help="only create the session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_promote)
