"""Model subcommands: models (the suggested catalog and what is available offline) and
download-model (the one command that goes online, to fill the Hugging Face cache)."""

from __future__ import annotations

import argparse

from arena_core.cli.output import EXIT_OK, emit_json
from arena_core.store.session_store import SessionStore

PROGRESS_STEPS = 10  # a progress line per 10 %: readable in a terminal and in a log


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models",
        help="suggested models per language, and which are available offline",
        description="Suggested models per language group. 'available offline' ones train "
        "now; the others need 'download-model ID' once, on a machine that is online.",
    )
    models.add_argument(
        "--language",
        help="only models for these languages (ISO codes, comma-separated, e.g. fr or fr,de)",
    )
    models.add_argument("--json", action="store_true", help="a JSON list of rows")
    models.set_defaults(func=cmd_models)

    download = subparsers.add_parser(
        "download-model",
        help="download a hub model into the Hugging Face cache (needs the internet)",
        description="Fetch a model's config, tokenizer and safetensors weights into the "
        "Hugging Face cache, so that sessions can train it offline afterwards.",
    )
    download.add_argument("model_id", metavar="ID", help="Hugging Face id, e.g. xlm-roberta-base")
    download.add_argument(
        "--force", action="store_true", help="download again even when already in the cache"
    )
    download.set_defaults(func=cmd_download_model)


def cmd_models(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.training.catalog import catalog_rows

    languages = [p for p in (args.language or "").split(",") if p.strip()] or None
    rows = catalog_rows(languages)
    if args.json:
        emit_json(rows)
        return EXIT_OK
    width = max(len(row["id"]) for row in rows)
    print(f"  {'model':<{width}}  {'lang':<5} {'size':>5} {'tokens':>6}  {'status':<17}  note")
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            print(f"{group}:")
        print(
            f"  {row['id']:<{width}}  {','.join(row['languages']):<5} {row['size']:>5} "
            f"{row['max_tokens']:>6}  {row['status']:<17}  {row['note']}"
        )
    missing = sum(not row["available_offline"] for row in rows)
    if missing:
        print(f"{missing} of {len(rows)} need 'download-model ID' once (online) before training.")
    return EXIT_OK


def cmd_download_model(args: argparse.Namespace, store: SessionStore) -> int:
    from arena_core.training import hub

    model_id = args.model_id.strip()
    if not args.force and (folder := hub.cached_snapshot(model_id)) is not None:
        print(f"{model_id} is already available offline ({folder}).")
        return EXIT_OK
    shown = {"step": -1}

    def progress(fraction: float, message: str) -> None:
        step = int(fraction * PROGRESS_STEPS + 1e-6)  # not fraction // 0.1: 1.0 // 0.1 is 9
        if step > shown["step"]:
            shown["step"] = step
            print(f"{fraction:4.0%}  {message}", flush=True)

    folder = hub.download(model_id, progress)
    print(f"Downloaded {model_id} to {folder}. Train it with --model {model_id}.")
    return EXIT_OK
