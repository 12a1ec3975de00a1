"""Legacy session folders, written in code the way the previous tool saved them.

See docs/legacy-sessions.md in this repository. Paths recorded in the metadata are absolute paths of
another machine (/home/alice/...), as in the user reports; the files are inside the folder.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

STAMP = "20240501_101500"
ALICE = "/home/alice/llm_tool/logs/training_arena"
SENTIMENTS = ["positive", "negative", "neutral"]
THEMES = ["economy", "health", "environment"]
URGENCY = ["low", "high"]
TOPICS = ["economy", "sports"]  # shares 'economy' with THEMES (the ambiguous case)
WORDS = {
    "positive": "great wonderful",
    "negative": "awful terrible",
    "neutral": "plain usual",
    "economy": "taxes wages",
    "health": "doctors hospitals",
    "environment": "forests climate",
    "sports": "football match",
    "low": "later whenever",
    "high": "now urgent",
}


def make_rows(
    n: int, multiclass: dict[str, list[str]], onevsall: dict[str, list[str]], seed: int = 0
) -> list[dict]:
    """Rows with an id, text, language and key -> values (one per multi-class key, 0-2 else)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        values: dict[str, list[str]] = {}
        for key, choices in multiclass.items():
            values[key] = [choices[i % len(choices)]]
        for key, choices in onevsall.items():
            picked = {choices[(i + len(key)) % len(choices)]} if i % 5 else set()
            if i % 3 == 0:
                picked.add(choices[(i + 1) % len(choices)])
            values[key] = sorted(picked)
        words = " ".join(WORDS.get(v, v) for vs in values.values() for v in vs)
        rows.append(
            {
                "id": f"doc{i:03d}",
                "text": f"note {i} {words} {rng.randint(0, 999)}",
                "lang": "EN" if i % 2 else "FR",
                "values": values,
            }
        )
    return rows


def _label(key: str, value: str, prefixed: bool) -> str:
    return f"{key}_{value}" if prefixed else value


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_legacy_session(
    parent: Path,
    name: str,
    multiclass: dict[str, list[str]],
    onevsall: dict[str, list[str]],
    *,
    n: int = 80,
    prefixed: bool = True,
    with_fields: bool = False,
    approach: str | None = None,
    category_distribution: dict | None = None,
    status: str = "failed",
) -> Path:
    """One legacy session folder; returns it. Strategy fields only with ``with_fields``."""
    session_id = f"{name}_{STAMP}"
    folder = parent / session_id
    data_dir = folder / "training_data"
    rows = make_rows(n, multiclass, onevsall)
    recorded = f"{ALICE}/{session_id}/training_data"
    training_files: dict[str, str] = {}

    def base(row: dict) -> dict:
        return {"text": row["text"], "id": row["id"], "lang": row["lang"]}

    for key in multiclass:
        file_name = f"multiclass_{key}_{STAMP}.jsonl"
        _write_jsonl(
            data_dir / file_name,
            [
                {**base(r), "labels": _label(key, r["values"][key][0], prefixed)}
                for r in rows
                if r["values"][key]
            ],
        )
        training_files[key] = f"{recorded}/{file_name}"
    if onevsall:
        file_name = f"onevsall_keys_{STAMP}.jsonl"
        _write_jsonl(
            data_dir / file_name,
            [
                {
                    **base(r),
                    "labels": [_label(k, v, prefixed) for k in onevsall for v in r["values"][k]],
                }
                for r in rows
            ],
        )
        training_files["onevsall_multilabel"] = f"{recorded}/{file_name}"
    file_name = f"multilabel_all_keys_{STAMP}.jsonl"
    _write_jsonl(
        data_dir / file_name,
        [
            {
                **base(r),
                "labels": [_label(k, v, prefixed) for k, vs in r["values"].items() for v in vs],
            }
            for r in rows
        ],
    )
    training_files["multilabel"] = f"{recorded}/{file_name}"

    keys = [*multiclass, *onevsall]
    if approach is None:
        approach = (
            "hybrid" if multiclass and onevsall else ("multi-class" if multiclass else "one-vs-all")
        )
    dataset_config = {
        "primary_file": f"/home/alice/data/{name}.csv",
        "format": "llm-json",
        "strategy": "multi-label",
        "text_column": "text",
        "label_column": "labels",
        "total_samples": n,
        "has_validation": True,
        "has_test": False,
        "training_files": training_files,
        "categories": keys,
        "category_distribution": category_distribution
        or {
            k: {v: sum(v in r["values"][k] for r in rows) for v in c}
            for k, c in {**multiclass, **onevsall}.items()
        },
        "source_file": f"/home/alice/data/{name}.csv",
        "annotation_column": "annotation",
        "training_approach": approach,
        "original_strategy": approach,
    }
    if with_fields:
        dataset_config["multiclass_keys"] = list(multiclass)
        dataset_config["onevsall_keys"] = list(onevsall)
        dataset_config["key_strategies"] = {
            **{k: "multi-class" for k in multiclass},
            **{k: "one-vs-all" for k in onevsall},
        }
        files = {k: training_files[k] for k in multiclass}
        if onevsall:
            files["onevsall_multilabel"] = training_files["onevsall_multilabel"]
        dataset_config["files_per_key"] = files
    metadata = {
        "metadata_version": "2.0",
        "created_at": "2024-05-01T10:15:00",
        "last_updated": "2024-05-01T10:20:00",
        "training_session": {
            "session_id": session_id,
            "timestamp": STAMP,
            "tool_version": "1.4.2",
            "workflow": "annotate-then-train",
            "mode": "training_arena",
        },
        "dataset_config": dataset_config,
        "language_config": {
            "confirmed_languages": ["EN", "FR"],
            "model_strategy": "multilingual",
            "per_language_training": False,
        },
        "split_config": {
            "mode": "uniform",
            "use_test_set": False,
            "train_ratio": 0.75,
            "validation_ratio": 0.25,
            "stratified": True,
            "seed": 7,
        },
        "model_config": {
            "training_mode": "quick",
            "selected_model": "bert-base-multilingual-cased",
            "epochs": 4,
            "batch_size": 8,
            "learning_rate": 3e-5,
        },
        "execution_status": {
            "status": status,
            "error_message": "All trainings failed" if status == "failed" else None,
            "models_trained": 0,
            "total_expected_models": 0,
        },
        "text_analysis": {"avg_length": 42.0, "max_length": 80},
        "output_paths": {"models": f"/home/alice/llm_tool/models/{session_id}"},
    }
    meta_dir = folder / "training_session_metadata"
    meta_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metadata, indent=2)
    (meta_dir / "training_metadata.json").write_text(text, encoding="utf-8")
    backup = dict(metadata, last_updated="2024-05-01T10:16:00")
    backup["execution_status"] = {"status": "pending", "models_trained": 0}
    (meta_dir / "training_metadata_backup.json").write_text(json.dumps(backup, indent=2), "utf-8")
    resume = {
        "schema_version": 1,
        "mode": "training_arena",
        "session_id": session_id,
        "status": status,
    }
    (folder / "resume.json").write_text(json.dumps(resume), encoding="utf-8")
    (folder / "training_metrics").mkdir()
    (folder / "training_metrics" / "epochs.csv").write_text("epoch,loss\n1,0.7\n", "utf-8")
    return folder


def truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ---------------------------------------------------------------- the six kinds


def incomplete_hybrid(parent: Path) -> Path:
    """The original bug: sentiment multi-class + themes one-vs-all (3 values), no strategy fields."""
    return write_legacy_session(parent, "hybrid", {"sentiment": SENTIMENTS}, {"themes": THEMES})


def incomplete_multiclass(parent: Path) -> Path:
    """Two multi-class keys, no strategy fields."""
    return write_legacy_session(
        parent, "twokeys", {"sentiment": SENTIMENTS, "urgency": URGENCY}, {}, n=60
    )


def complete_hybrid(parent: Path) -> Path:
    """Saved after the fix: the four strategy fields are present."""
    return write_legacy_session(
        parent,
        "complete",
        {"sentiment": SENTIMENTS},
        {"themes": THEMES},
        with_fields=True,
        status="completed",
        n=60,
    )


def corrupt_primary(parent: Path) -> Path:
    """training_metadata.json truncated mid-write; the backup is whole."""
    folder = write_legacy_session(
        parent, "corrupt", {"sentiment": SENTIMENTS}, {"themes": THEMES}, n=60
    )
    truncate(folder / "training_session_metadata" / "training_metadata.json")
    return folder


def unreadable(parent: Path) -> Path:
    """Both metadata files truncated."""
    folder = write_legacy_session(
        parent, "broken", {"sentiment": SENTIMENTS}, {"themes": THEMES}, n=60
    )
    truncate(folder / "training_session_metadata" / "training_metadata.json")
    truncate(folder / "training_session_metadata" / "training_metadata_backup.json", 0.3)
    return folder


def ambiguous(parent: Path) -> Path:
    """Bare value names; themes and topics (both one-vs-all) share the value 'economy'."""
    return write_legacy_session(
        parent,
        "ambiguous",
        {"sentiment": SENTIMENTS},
        {"themes": THEMES, "topics": TOPICS},
        prefixed=False,
        n=60,
    )


ALL_KINDS = {
    "incomplete_hybrid": incomplete_hybrid,
    "incomplete_multiclass": incomplete_multiclass,
    "complete_hybrid": complete_hybrid,
    "corrupt_primary": corrupt_primary,
    "unreadable": unreadable,
    "ambiguous": ambiguous,
}


def write_all(parent: Path) -> dict[str, Path]:
    """Every kind under one parent folder (like logs/training_arena)."""
    parent.mkdir(parents=True, exist_ok=True)
    return {name: make(parent) for name, make in ALL_KINDS.items()}


def snapshot_tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes, to prove nothing was changed."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
