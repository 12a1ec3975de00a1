"""Core subcommands: inspect, new, list, show, check, plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from arena_core.cli.output import EXIT_OK, EXIT_PROBLEMS, emit_json
from arena_core.errors import ArenaError
from arena_core.session.check import check, is_complete
from arena_core.session.manifest import (
    DatasetOptions,
    SessionStatus,
    SplitSettings,
    TrainingConfig,
    validation_message,
)
from arena_core.session.plan import plan
from arena_core.store import paths
from arena_core.store.session_store import SessionStore
from arena_core.training.precision import CHOICES as PRECISIONS
from arena_core.training.precision import auto_summary


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dataset")
    group.add_argument("data", type=Path, help="CSV, TSV, JSONL, JSON, Parquet or Excel file")
    group.add_argument("--text-col", help="text column (default: guessed)")
    group.add_argument("--annotation-col", help="JSON annotation column (key -> value(s))")
    group.add_argument("--label-cols", help="comma-separated label columns, one per key")
    group.add_argument("--lang-col", help="language column (optional)")
    group.add_argument("--id-col", help="id column (optional)")
    group.add_argument("--detect-language", action="store_true", help="detect languages (lingua)")
    group.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="KEY=STRATEGY",
        help="multi-class, one-vs-all, multi-label or auto (repeatable; default auto)",
    )
    group.add_argument(
        "--auto-threshold", type=int, default=5, help="auto: max values for multi-class"
    )
    group.add_argument("--per-language", action="store_true", help="one model per language")
    group.add_argument("--min-examples", type=int, default=2, help="drop rarer labels (default 2)")
    group.add_argument("--val-ratio", type=float, default=0.2)
    group.add_argument("--test-ratio", type=float, default=0.0)
    group.add_argument("--seed", type=int, default=42)
    group.add_argument("--name", help="session name (default: the file name)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    defaults = TrainingConfig()
    group.add_argument(
        "--model", default=defaults.model, help="minilm (default), tiny, a folder or hub id"
    )
    group.add_argument("--epochs", type=int, default=defaults.epochs)
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    group.add_argument("--max-length", type=int, default=defaults.max_length)
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=defaults.precision,
        help=f"number format: auto ({auto_summary()}), fp32, bf16, or fp16 (CUDA GPU only)",
    )


def dataset_options(
    args: argparse.Namespace, frame_columns: list[str] | None = None
) -> DatasetOptions:
    """DatasetOptions from flags, filling unset columns from the file's guessed columns."""
    from arena_core.data.columns import guess_columns
    from arena_core.data.readers import read_table

    guess = None
    if not args.text_col or not (args.annotation_col or args.label_cols):
        guess = guess_columns(read_table(args.data).frame)
    label_cols = [c.strip() for c in (args.label_cols or "").split(",") if c.strip()]
    if args.annotation_col or (not label_cols and guess and guess.layout == "annotation-json"):
        layout_name, annotation = "annotation-json", args.annotation_col or guess.annotation_col
    else:
        layout_name, annotation = "label-columns", None
        label_cols = label_cols or (guess.label_cols if guess else [])
    return DatasetOptions(
        text_col=args.text_col or (guess.text_col if guess else "text"),
        layout=layout_name,
        annotation_col=annotation,
        label_cols=label_cols,
        lang_col=args.lang_col or (guess.lang_col if guess else None),
        id_col=args.id_col or (guess.id_col if guess else None),
        detect_language=args.detect_language,
    )


def session_settings(args: argparse.Namespace):
    from arena_core.session.create import SessionSettings

    strategies = {}
    for item in args.strategy:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ArenaError(f"--strategy '{item}' must look like KEY=multi-class.")
        strategies[key.strip()] = value.strip()
    try:
        split = SplitSettings(val_ratio=args.val_ratio, test_ratio=args.test_ratio, seed=args.seed)
        training = TrainingConfig(
            model=args.model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            max_length=args.max_length,
            precision=args.precision,
            seed=args.seed,
        )
    except ValidationError as exc:
        raise ArenaError(f"Invalid option: {validation_message(exc)}.") from None
    if args.val_ratio + args.test_ratio >= 0.9:
        raise ArenaError("--val-ratio plus --test-ratio must leave at least 10% for training.")
    return SessionSettings(
        strategies=strategies,
        auto_threshold=args.auto_threshold,
        per_language=args.per_language,
        min_examples=args.min_examples,
        split=split,
        training=training,
        name=args.name,
    )


# ------------------------------------------------------------------ commands


def cmd_inspect(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.data.dataset import dataset_summary, load_dataset

    options = dataset_options(args)
    summary = dataset_summary(load_dataset(args.data, options))
    summary["options"] = options.model_dump()
    if args.json:
        emit_json(summary)
        return EXIT_OK
    print(f"{args.data}: {summary['n_rows']} rows, text column '{options.text_col}'")
    for key, info in summary["keys"].items():
        kind = "multi-valued" if info.get("multi_valued") else "single-valued"
        counts = ", ".join(f"{label} {n}" for label, n in info["counts"].items())
        print(f"  {key} ({kind}): {counts}")
    if summary.get("languages"):
        print("  languages: " + ", ".join(f"{k} {v}" for k, v in summary["languages"].items()))
    for warning in summary.get("warnings", []):
        print(f"  warning: {warning}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.session.create import create_session, prepare_from_file
    from arena_core.training.job_runner import check_model

    settings = session_settings(args)
    check_model(settings.training.model)  # refuse an unknown or disallowed model up front
    prepared = prepare_from_file(args.data, dataset_options(args), settings)
    if args.dry_run:
        if args.json:
            emit_json({"id": None, "jobs": len(prepared.jobs), "status": "dry-run"})
        else:
            print(f"Dry run: this session would train {len(prepared.jobs)} models:")
            _print_jobs(prepared.jobs)
        return EXIT_OK
    manifest = create_session(store, prepared)
    status = manifest.status.value
    code = EXIT_OK
    if not args.no_start:
        from arena_core.run import control

        control.launch(store, manifest.id)
        status = SessionStatus.QUEUED.value
        if args.wait:
            final = control.wait(store, manifest.id, quiet=args.json)
            status = final.value
            code = EXIT_OK if final is SessionStatus.COMPLETED else EXIT_PROBLEMS
    if args.json:
        emit_json({"id": manifest.id, "jobs": len(manifest.plan), "status": status})
    else:
        print(f"Created session {manifest.id} with {len(manifest.plan)} models ({status}).")
    return code


def cmd_list(args: argparse.Namespace, store: SessionStore) -> int:
    summaries = store.list()
    if args.json:
        fields = ("id", "name", "status", "created_at", "n_jobs", "complete", "parent", "origin")
        emit_json([{f: getattr(s, f) for f in fields} for s in summaries])
        return EXIT_OK
    if not summaries:
        print(f"No sessions yet in {store.sessions_root}.")
    for s in summaries:
        flag = "" if s.complete else "  [incomplete: run check]"
        if s.error:
            print(f"{s.id}  unreadable: {s.error}")
            continue
        print(f"{s.id}  {s.status:<11} {s.jobs_done}/{s.n_jobs} models  {s.created_at}{flag}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, store: SessionStore) -> int:
    manifest, warnings = store.load_with_warnings(args.session)
    for warning in warnings:
        print(f"warning: {warning}")
    print(manifest.model_dump_json(indent=2))
    return EXIT_OK


def _manifest_for(target: str, store: SessionStore):
    """(label, manifest, session folder or None) for an id, a session folder or a manifest file."""
    path = Path(target)
    if path.exists():
        if path.is_dir() and (path / paths.MANIFEST).exists():
            return target, store.load_raw(path / paths.MANIFEST), path
        if path.is_file():
            return target, store.load_raw(path), None
        from arena_core.legacy import importer as legacy  # a session folder of the previous tool

        return target, legacy.manifest_from_folder(path), None
    return target, store.load(target), store.existing_dir(target)


def cmd_check(args: argparse.Namespace, store: SessionStore) -> int:
    label, manifest, folder = _manifest_for(args.target, store)
    problems = check(manifest, folder)
    complete = is_complete(problems)
    if args.json:
        emit_json(
            {"session": label, "complete": complete, "problems": [p.model_dump() for p in problems]}
        )
    else:
        print(f"{label}: {'complete' if complete else 'INCOMPLETE'}")
        for p in problems:
            print(f"  {p.severity}: {p.field}: {p.message}")
    return EXIT_OK if complete else EXIT_PROBLEMS


def _print_jobs(jobs) -> None:
    for job in jobs:
        extra = " ".join(x for x in (job.label or "", job.language or "") if x)
        print(f"  {job.id:<40} {job.key:<16} {job.strategy.value:<12} {extra}")


def cmd_plan(args: argparse.Namespace, store: SessionStore) -> int:
    manifest = store.load(args.session)
    jobs = plan(manifest)
    if args.json:
        emit_json(
            {
                "session": manifest.id,
                "jobs": [
                    {
                        "id": j.id,
                        "key": j.key,
                        "strategy": j.strategy.value,
                        "label": j.label,
                        "language": j.language,
                        "labels": j.labels,
                    }
                    for j in jobs
                ],
            }
        )
    else:
        print(f"{manifest.id}: {len(jobs)} models")
        _print_jobs(jobs)
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="columns, keys, label counts and warnings of a file")
    add_dataset_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = subparsers.add_parser("new", help="create a session from a file (and train it)")
    add_dataset_options(p)
    add_model_options(p)
    p.add_argument("--dry-run", action="store_true", help="show the plan; write nothing")
    p.add_argument("--wait", action="store_true", help="train now and wait for the end")
    p.add_argument("--no-start", action="store_true", help="only write a 'ready' session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_new)

    p = subparsers.add_parser("list", help="sessions, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("show", help="a session's manifest")
    p.add_argument("session")
    p.set_defaults(func=cmd_show)

    p = subparsers.add_parser("check", help="missing or inconsistent strategy fields")
    p.add_argument("target", metavar="ID|PATH")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = subparsers.add_parser("plan", help="the models a session trains")
    p.add_argument("session")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
