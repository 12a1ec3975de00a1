"""Import of sessions saved by the previous Training Arena tool (see docs/legacy-sessions.md).

A legacy session folder is read without ever being modified: its metadata is mapped into a
``SessionManifest`` (origin "legacy", status "imported"), its files are copied verbatim into
``<session>/legacy/``, and when the labels can be attributed to keys the normalised snapshot and
a deterministic split are built so that a repaired session can be relaunched. Strategy fields
are copied only when the legacy metadata has them; ``check`` then names the missing ones and
``repair`` infers them.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import layout
from .dataset import label_column
from .errors import ArenaError, ManifestError, StorageError
from .fsutil import atomic_write_bytes, storage_error
from .legacy_data import (
    CONSOLIDATED_NAME,
    ONEVSALL_NAME,
    LegacyLabels,
    LegacyLayout,
    distribution_values,
    load_labels,
    read_records,
)
from .manifest import (
    DatasetSnapshot,
    FilterSettings,
    KeyInfo,
    LanguageSettings,
    SessionManifest,
    SessionStatus,
    SplitSettings,
    TrainingConfig,
    file_sha256,
    now_iso,
    read_manifest,
)
from .splits import make_split, split_counts, write_split
from .store import SessionStore
from .strategy import Strategy, plan_with_notes

log = logging.getLogger(__name__)

# Names of the previous tool's on-disk format (not ours to change).
METADATA_DIR = "training_session_metadata"
METADATA = "training_metadata.json"
METADATA_BACKUP = "training_metadata_backup.json"
RESUME = "resume.json"
DATA_DIR = "training_data"
LEGACY_DATA = f"{layout.LEGACY_DIR}/{DATA_DIR}"  # where data files go inside our session
MAX_DEPTH = 4  # how deep a parent folder is searched for sessions
DEFAULT_SEED = 42
FILE_SECTIONS = ("training_files", "files_per_key")  # where the metadata names its data files
FALLBACK_SECTION = "data_files"  # files found by name when the metadata names none

_STRATEGY_WORDS = {
    "multiclass": Strategy.MULTI_CLASS,
    "onevsall": Strategy.ONE_VS_ALL,
    "onevsrest": Strategy.ONE_VS_ALL,
    "multilabel": Strategy.MULTI_LABEL,
}
_STAMP = re.compile(r"_\d{8}_\d{6}$")


# ---------------------------------------------------------------- finding and reading


def _root(path: Path) -> Path:
    path = Path(path).expanduser().resolve()
    return path.parent if path.name == METADATA_DIR else path


def is_legacy_session(folder: Path) -> bool:
    """A folder holding legacy metadata (or at least the resume.json of one)."""
    folder = Path(folder)
    return (
        (folder / METADATA_DIR).is_dir()
        or (folder / METADATA).is_file()
        or (folder / METADATA_BACKUP).is_file()
        or (folder / RESUME).is_file()
    )


def find_sessions(path: Path) -> list[Path]:
    """``path`` itself when it is a legacy session, else every session below it (sorted)."""
    root = _root(path)
    if not root.is_dir():
        raise ArenaError(f"{path} is not a folder: give a legacy session folder or its parent.")
    if is_legacy_session(root):
        return [root]
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc)
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if is_legacy_session(child):
                found.append(child)
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(root, 1)
    return found


@dataclass
class LegacyMetadata:
    """The metadata as read, which file it came from, and the identity of the folder."""

    folder: Path
    data: dict[str, Any]
    file: Path
    sha256: str  # of the primary metadata file (of the file read when there is no primary)
    warnings: list[str] = field(default_factory=list)


def _first_existing(folder: Path, name: str) -> Path | None:
    for candidate in (folder / METADATA_DIR / name, folder / name):
        if candidate.is_file():
            return candidate
    return None


def _parse_metadata(path: Path) -> dict[str, Any]:
    """The metadata dict, or ValueError with a reason a user understands."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated")
        hint = ", the file looks truncated" if truncated else ""
        raise ValueError(
            f"invalid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}{hint})"
        ) from None
    if not isinstance(data, dict) or not (
        {"dataset_config", "training_session", "metadata_version"} & set(data)
    ):
        raise ValueError("not a Training Arena metadata file (no dataset_config section)")
    return data


def read_metadata(folder: Path) -> LegacyMetadata:
    """Read training_metadata.json, falling back to the backup; ManifestError when neither."""
    folder = _root(folder)
    primary = _first_existing(folder, METADATA)
    backup = _first_existing(folder, METADATA_BACKUP)
    reasons = []
    for path in (primary, backup):
        if path is None:
            continue
        try:
            data = _parse_metadata(path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            reasons.append(f"{path.name}: {reason}")
            continue
        warnings = []
        if path is backup:
            first = reasons[0] if reasons else f"{METADATA} is missing"
            warnings.append(f"{first}; read {METADATA_BACKUP} instead (it may be one save older).")
            log.warning("%s: %s", folder.name, warnings[-1])
        try:
            digest = file_sha256(primary if primary is not None else path)
        except OSError:
            digest = file_sha256(path)
        return LegacyMetadata(folder, data, path, digest, warnings)
    if not reasons:
        reasons.append(f"no {METADATA} or {METADATA_BACKUP} in {folder / METADATA_DIR}")
    raise ManifestError(
        f"Legacy session {folder} is unreadable: " + "; ".join(reasons) + ". Nothing was imported."
    )


def _file_name(recorded: str) -> str:
    return re.split(r"[\\/]", str(recorded).strip())[-1]


def legacy_target(recorded: str) -> str:
    """Where a recorded data file lives inside our session folder."""
    return f"{LEGACY_DATA}/{_file_name(recorded)}"


def resolve_recorded(folder: Path, recorded: str) -> Path | None:
    """A recorded path (often absolute, from another machine), found by name in the folder."""
    name = _file_name(recorded)
    if not name:
        return None
    relative = folder / str(recorded)
    if not Path(recorded).is_absolute() and relative.is_file():
        return relative
    direct = folder / DATA_DIR / name
    if direct.is_file():
        return direct
    matches = sorted(p for p in folder.rglob(name) if p.is_file())
    return matches[0] if matches else None


# ---------------------------------------------------------------- mapping


@dataclass
class LegacyBuild:
    """An imported session in memory: the manifest, the labels and the files to copy."""

    folder: Path
    manifest: SessionManifest
    labels: LegacyLabels | None
    copies: dict[str, Path]  # path inside our session folder -> source file
    notes: list[str]
    stratify_keys: list[str] = field(default_factory=list)  # multi-class keys, as far as known


def normalise_strategy(value: Any) -> Strategy | None:
    word = re.sub(r"[^a-z]", "", str(value).lower())
    return _STRATEGY_WORDS.get(word)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _role_from_name(name: str, keys: list[str]) -> tuple[str, str | None]:
    """('multiclass', key) / ('onevsall', None) / ('consolidated', None) / ('other', None)."""
    stem = Path(name).stem
    if stem.startswith("multiclass_"):
        rest = stem[len("multiclass_") :]
        matches = [k for k in keys if rest == k or rest.startswith(k + "_")]
        if matches:
            return "multiclass", max(matches, key=len)
        return "multiclass", _STAMP.sub("", rest) or None
    if stem.startswith("onevsall"):
        return "onevsall", None
    if stem.startswith("multilabel"):
        return "consolidated", None
    return "other", None


class _Mapper:
    """Builds one LegacyBuild; collects notes on the way."""

    def __init__(self, meta: LegacyMetadata) -> None:
        self.meta = meta
        self.folder = meta.folder
        self.data = meta.data
        self.dc = _section(meta.data, "dataset_config")
        self.notes: list[str] = list(meta.warnings)
        self.copies: dict[str, Path] = {}
        self.files: dict[str, dict[str, Any]] = {}

    def field(self, name: str) -> Any:
        """A strategy field: dataset_config first, the top level as a variation."""
        return self.dc.get(name, self.data.get(name))

    # ---- files
    def resolve(self, section: str, name: str, recorded: Any) -> str:
        """Resolve one recorded file; returns the path it has (or would have) in our session."""
        recorded = str(recorded)
        found = resolve_recorded(self.folder, recorded)
        target = legacy_target(recorded)
        entry = {"recorded": recorded, "found": None, "copied": None}
        if found is None:
            self.notes.append(
                f"{section} '{name}': {recorded} was not found in {self.folder} (looked for "
                f"{_file_name(recorded)} in {DATA_DIR}/ and anywhere in the folder)."
            )
        else:
            entry["found"] = found.relative_to(self.folder).as_posix()
            entry["copied"] = target
            self.copies[target] = found
        self.files[f"{section}.{name}"] = entry
        return target

    def layout(self, keys: list[str]) -> LegacyLayout:
        """Role of each data file (training_files, else files_per_key, else file names)."""
        targets: dict[str, str] = {}
        chosen = None
        for section in FILE_SECTIONS:
            value = self.field(section)
            if isinstance(value, dict) and value:
                for name, recorded in value.items():
                    targets_here = self.resolve(section, str(name), recorded)
                    if chosen is None or chosen == section:
                        targets[str(name)] = targets_here
                chosen = chosen or section
        result = LegacyLayout()
        if chosen is None:
            found = sorted((self.folder / DATA_DIR).glob("*.jsonl")) or sorted(
                self.folder.rglob("*.jsonl")
            )
            if found:
                self.notes.append(
                    "the metadata names no training file: used the data files found in the "
                    f"folder ({', '.join(p.name for p in found)})."
                )
            for path in found:
                role, key = _role_from_name(path.name, keys)
                name = {"onevsall": ONEVSALL_NAME, "consolidated": CONSOLIDATED_NAME}.get(role, key)
                if name and role != "other":
                    targets[name] = self.resolve(FALLBACK_SECTION, name, path.name)
        return _file_roles(targets, self.copies.get, result)

    # ---- keys and strategies
    def keys(self) -> list[str]:
        categories = self.dc.get("categories")
        if isinstance(categories, dict):
            categories = list(categories)
        if isinstance(categories, list) and categories:
            return [str(c) for c in categories]
        return []

    def guess_keys(self, layout: LegacyLayout) -> list[str]:
        """Keys when the metadata has no categories: multi-class files, then label prefixes."""
        keys = list(layout.multiclass)
        for path in (layout.onevsall, layout.consolidated):
            if path is None:
                continue
            for record in read_records(path).records:
                for label in record.labels:
                    if any(label.startswith(k + "_") for k in keys):
                        continue
                    head = label.split("_", 1)[0]
                    if "_" in label and head not in keys:
                        keys.append(head)
        if keys:
            self.notes.append(
                "the metadata has no 'categories': keys taken from the data files "
                f"({', '.join(keys)}; prefixes cut at the first '_'). Check them before repair."
            )
        return keys

    def strategy_fields(self) -> dict[str, Any]:
        """The strategy fields the legacy metadata really has (None: missing)."""
        fields: dict[str, Any] = {}
        for name in ("multiclass_keys", "onevsall_keys", "multilabel_keys"):
            raw = self.field(name)
            if raw is None:
                continue
            value = _str_list(raw)
            if value is None:
                self.notes.append(
                    f"'{name}' in the legacy metadata is not a list of keys: ignored."
                )
            fields[name] = value
        raw = self.field("key_strategies")
        if isinstance(raw, dict):
            parsed = {str(k): normalise_strategy(v) for k, v in raw.items()}
            bad = [f"{k}={raw[k]!r}" for k, s in parsed.items() if s is None]
            if bad:
                self.notes.append(
                    f"'key_strategies' in the legacy metadata has unknown strategies "
                    f"({', '.join(bad)}): left missing."
                )
            else:
                fields["key_strategies"] = parsed
        elif raw is not None:
            self.notes.append("'key_strategies' in the legacy metadata is not a mapping: ignored.")
        raw = self.field("files_per_key")
        if isinstance(raw, dict):
            onevsall = fields.get("onevsall_keys")
            if onevsall is None and fields.get("key_strategies"):
                onevsall = [
                    k for k, s in fields["key_strategies"].items() if s is Strategy.ONE_VS_ALL
                ]
            files: dict[str, str] = {}
            for name, recorded in raw.items():
                target = legacy_target(str(recorded))
                if name == ONEVSALL_NAME:
                    files.update({k: target for k in onevsall or []})
                elif name != CONSOLIDATED_NAME:
                    files[str(name)] = target
            fields["files_per_key"] = files
        return {k: v for k, v in fields.items() if v is not None}

    # ---- settings
    def split(self) -> SplitSettings:
        config = _section(self.data, "split_config")
        seed = config.get("seed", DEFAULT_SEED)
        values: dict[str, Any] = {"seed": seed if isinstance(seed, int) else DEFAULT_SEED}
        val = next(
            (config[k] for k in ("val_ratio", "validation_ratio", "valid_ratio") if k in config),
            None,
        )
        test = config.get("test_ratio") if config.get("use_test_set", True) else 0.0
        train = config.get("train_ratio")
        if val is None and isinstance(train, int | float):
            val = 1 - train - (test or 0)
        if val is not None:
            values["val_ratio"] = val
        if test is not None:
            values["test_ratio"] = test
        if isinstance(config.get("stratified"), bool):
            values["stratify"] = config["stratified"]
        try:
            settings = SplitSettings(**values)
            if settings.val_ratio + settings.test_ratio >= 0.9:
                raise ValueError("validation + test leave under 10% for training")
            return settings
        except ValueError as exc:
            self.notes.append(
                f"split_config ratios ignored ({str(exc).splitlines()[0]}); using our defaults "
                f"with seed {values['seed']}."
            )
            return SplitSettings(seed=values["seed"])

    def training(self) -> TrainingConfig:
        config = _section(self.data, "model_config")
        training = TrainingConfig()
        for name in ("epochs", "batch_size", "learning_rate"):
            if config.get(name) is None:
                continue
            try:
                setattr(training, name, config[name])
            except ValueError:
                self.notes.append(f"model_config.{name}={config[name]!r} is invalid: kept default.")
        return training


def _session_name(legacy_id: str) -> str:
    return _STAMP.sub("", legacy_id) or legacy_id


def _stratify_key(keys: dict[str, KeyInfo], candidates: list[str]) -> list[str]:
    for key in candidates:
        if key in keys and keys[key].labels and not keys[key].multi_valued:
            return [label_column(key)]
    return []


def build(path: Path) -> LegacyBuild:
    """Map one legacy session folder into a manifest in memory (nothing is written)."""
    meta = read_metadata(path)
    mapper = _Mapper(meta)
    data, dc = meta.data, mapper.dc
    session = _section(data, "training_session")
    legacy_id = str(session.get("session_id") or meta.folder.name)

    keys = mapper.keys()
    file_layout = mapper.layout(keys)
    if not keys:
        keys = mapper.guess_keys(file_layout)
    fields = mapper.strategy_fields()
    candidates = fields.get("onevsall_keys")
    if candidates is None and "key_strategies" in fields:
        candidates = [k for k, s in fields["key_strategies"].items() if s is Strategy.ONE_VS_ALL]
    labels = None
    if file_layout.multiclass or file_layout.onevsall or file_layout.consolidated:
        labels = load_labels(
            file_layout,
            keys,
            candidates,
            distribution_values(dc.get("category_distribution"), keys),
        )
        mapper.notes.extend(labels.warnings)
        if labels.table is None:
            mapper.notes.append(
                "the dataset snapshot cannot be built: " + "; ".join(labels.problems) + "."
            )
    else:
        mapper.notes.append("no training data file was found: the dataset cannot be rebuilt.")
    key_infos = {k: (labels.keys[k] if labels else KeyInfo(labels=[])) for k in keys}

    multiclass_hint = fields.get("multiclass_keys") or list(file_layout.multiclass)
    split = mapper.split()
    languages = labels.languages if labels else {}
    per_language = bool(_section(data, "language_config").get("per_language_training"))
    if per_language and not languages:
        mapper.notes.append(
            "the legacy session trained per language, but its data has no 'lang': "
            "one model per key/value is planned instead."
        )
        per_language = False
    model_config = _section(data, "model_config")
    status = _section(data, "execution_status")
    approach = dc.get("training_approach")
    legacy_info = {
        "source_path": str(meta.folder),
        "session_id": legacy_id,
        "metadata_file": meta.file.relative_to(meta.folder).as_posix(),
        "metadata_sha256": meta.sha256,
        "read_from_backup": meta.file.name == METADATA_BACKUP,
        "tool_version": session.get("tool_version"),
        "selected_model": model_config.get("selected_model"),
        "training_approach": approach,
        "status": status.get("status"),
        "error_message": status.get("error_message"),
        "files": mapper.files,
        "copied": [],
        "imported_at": None,
        "repairs": [],
        "metadata": data,
    }
    reason = f"imported from the previous tool (legacy status: {status.get('status', 'unknown')}"
    if status.get("error_message"):
        reason += f", {status['error_message']}"
    table = labels.table if labels else None
    manifest = SessionManifest(
        id=_session_id(legacy_id),
        name=_session_name(legacy_id),
        created_at=str(data.get("created_at") or now_iso()),
        origin="legacy",
        status=SessionStatus.IMPORTED,
        status_reason=reason + ")",
        dataset=DatasetSnapshot(
            source_name=(file_layout.consolidated or Path(legacy_id)).name,
            source_sha256=meta.sha256,
            n_rows=len(table) if table is not None else 0,
        ),
        keys=key_infos,
        filtering=FilterSettings(min_examples=1),  # the previous tool trained every value
        language=LanguageSettings(
            languages=sorted(languages), counts=dict(languages), per_language=per_language
        ),
        split=split,
        training=mapper.training(),
        legacy=legacy_info,
        **fields,
    )
    if manifest.key_strategies is not None:
        try:
            manifest.plan, plan_notes = plan_with_notes(manifest)
            mapper.notes.extend(plan_notes)
        except ArenaError as exc:
            mapper.notes.append(f"no plan: {exc}")
    manifest.notes = mapper.notes
    _add_source_copies(meta.folder, mapper.copies)
    legacy_info["copied"] = sorted(mapper.copies)
    return LegacyBuild(meta.folder, manifest, labels, mapper.copies, mapper.notes, multiclass_hint)


def _add_source_copies(folder: Path, copies: dict[str, Path]) -> None:
    """Metadata, backup and resume.json are copied verbatim, at their relative place."""
    for name in (METADATA, METADATA_BACKUP):
        path = _first_existing(folder, name)
        if path is not None:
            copies[f"{layout.LEGACY_DIR}/{path.relative_to(folder).as_posix()}"] = path
    if (folder / RESUME).is_file():
        copies[f"{layout.LEGACY_DIR}/{RESUME}"] = folder / RESUME


def _session_id(legacy_id: str) -> str:
    candidate = re.sub(r"[^A-Za-z0-9_.-]+", "-", legacy_id).strip("-.")[:100]
    candidate = re.sub(r"\.{2,}", ".", candidate)
    return candidate if candidate and candidate[0].isalnum() else f"legacy-{candidate or 'session'}"


def session_layout(
    manifest: SessionManifest, folder: Path
) -> tuple[str | None, dict[str, str], LegacyLayout]:
    """For an imported session: which metadata section named the data files, name -> path
    inside the session (present or not), and the roles of the files present on disk."""
    files = (manifest.legacy or {}).get("files") or {}
    for section in (*FILE_SECTIONS, FALLBACK_SECTION):
        entries = {
            name.split(".", 1)[1]: entry
            for name, entry in files.items()
            if name.startswith(section + ".")
        }
        if entries:
            break
    else:
        return None, {}, LegacyLayout()
    targets = {name: legacy_target(entry["recorded"]) for name, entry in entries.items()}

    def on_disk(target: str) -> Path | None:
        return folder / target if (folder / target).is_file() else None

    return section, targets, _file_roles(targets, on_disk, LegacyLayout())


def _file_roles(
    targets: dict[str, str], locate: Callable[[str], Path | None], result: LegacyLayout
) -> LegacyLayout:
    """Fill ``result`` with the files that ``locate`` finds: one-vs-all, consolidated, or the
    multi-class file of the key the entry is named after."""
    for name, target in targets.items():
        path = locate(target)
        if path is None:
            continue
        if name == ONEVSALL_NAME:
            result.onevsall = path
        elif name == CONSOLIDATED_NAME:
            result.consolidated = path
        else:
            result.multiclass[name] = path
    return result


def manifest_from_folder(path: Path) -> SessionManifest:
    """The manifest one legacy folder would import as (for ``check PATH``); writes nothing."""
    root = _root(path)
    if not is_legacy_session(root):
        sessions = find_sessions(root) if root.is_dir() else []
        if sessions:
            listed = ", ".join(s.name for s in sessions[:5]) + (
                ", ..." if len(sessions) > 5 else ""
            )
            raise ManifestError(
                f"{path} holds {len(sessions)} legacy sessions ({listed}): check one session "
                "folder at a time, or import them all with 'import-legacy'."
            )
        raise ManifestError(
            f"{path} is neither a session of this store nor a legacy session folder "
            f"(expected {METADATA_DIR}/{METADATA} inside)."
        )
    return build(root).manifest


# ---------------------------------------------------------------- writing


def write_dataset(
    folder: Path, manifest: SessionManifest, table: pd.DataFrame, stratify_keys: list[str]
) -> None:
    """Write the normalised snapshot and a deterministic split; record their hashes.

    The split is stratified on the first single-valued key of ``stratify_keys`` (the multi-class
    keys as far as the metadata tells), like a native session's first multi-class key.
    """
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    snapshot = folder / manifest.dataset.snapshot_file
    atomic_write_bytes(snapshot, buffer.getvalue())
    manifest.dataset.snapshot_sha256 = file_sha256(snapshot)
    stratify = _stratify_key(manifest.keys, stratify_keys) if manifest.split.stratify else []
    assignment = make_split(
        table, manifest.split.val_ratio, manifest.split.test_ratio, manifest.split.seed, stratify
    )
    manifest.split.sha256 = write_split(folder / manifest.split.file, table["row"], assignment)
    manifest.split.counts = split_counts(assignment)


def _copy_verbatim(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(source, target)
    except OSError as exc:
        raise storage_error(target, exc) from exc
    if file_sha256(source) != file_sha256(target):
        raise StorageError(f"Copy of {source} into {target} differs from the original.")


@dataclass
class ImportReport:
    """What an import did, per legacy folder."""

    imported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: dict[str, list[str]] = field(default_factory=dict)  # session id -> notes

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        data["unreadable"] = [{"path": p, "reason": r} for p, r in self.unreadable]
        return data


def imported_sources(store: SessionStore) -> dict[str, str]:
    """metadata sha256 -> id of the session already imported from it."""
    found: dict[str, str] = {}
    if not store.sessions_root.is_dir():
        return found
    for folder in sorted(store.sessions_root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            manifest, _ = read_manifest(folder)
        except ArenaError:
            continue
        if manifest.origin == "legacy" and manifest.legacy:
            digest = manifest.legacy.get("metadata_sha256")
            if digest and manifest.parent is None:
                found.setdefault(digest, manifest.id)
    return found


def import_one(store: SessionStore, built: LegacyBuild) -> SessionManifest:
    """Write one built legacy session into the store (whole or not at all)."""
    manifest = built.manifest.model_copy(deep=True)
    manifest.id, staging = store.reserve(manifest.id)
    manifest.legacy["imported_at"] = now_iso()
    try:
        for target, source in sorted(built.copies.items()):
            _copy_verbatim(source, staging / target)
        if built.labels is not None and built.labels.table is not None:
            write_dataset(staging, manifest, built.labels.table, built.stratify_keys)
        else:
            manifest.notes.append(
                "no dataset snapshot was written: this session can be checked and repaired but "
                "not relaunched."
            )
        return store.create_from_folder(staging, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def import_legacy(store: SessionStore, path: Path, again: bool = False) -> ImportReport:
    """Import one legacy session folder, or every session below a parent folder.

    A folder whose metadata was already imported (same sha256) is skipped unless ``again``;
    an unreadable folder is listed with its reason and the others are still imported.
    """
    sessions = find_sessions(Path(path))
    if not sessions:
        raise ArenaError(
            f"No legacy session found in {path}: expected folders like "
            f"<name>_<YYYYMMDD>_<HHMMSS> holding {METADATA_DIR}/{METADATA}."
        )
    report = ImportReport()
    known = imported_sources(store)
    for folder in sessions:
        try:
            built = build(folder)
        except ArenaError as exc:
            report.unreadable.append((str(folder), str(exc)))
            continue
        digest = built.manifest.legacy["metadata_sha256"]
        if digest in known and not again:
            report.skipped.append(
                (
                    str(folder),
                    f"already imported as {known[digest]} (same metadata, sha256 "
                    f"{digest[:12]}); use --again to import it once more.",
                )
            )
            continue
        try:
            manifest = import_one(store, built)
        except ArenaError as exc:
            report.unreadable.append((str(folder), f"import failed: {exc}"))
            continue
        known.setdefault(digest, manifest.id)
        report.imported.append(manifest.id)
        report.notes[manifest.id] = list(manifest.notes)
        log.info("imported legacy session %s as %s", folder, manifest.id)
    return report
