"""Mapping one legacy metadata file onto our fields: data files and their roles, keys,
strategy fields (only those the metadata really has), split and training settings.

Every guess or dropped value becomes a note that the import shows and keeps in the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arena_core.legacy.data_files import (
    CONSOLIDATED_NAME,
    ONEVSALL_NAME,
    LegacyLayout,
    read_records,
)
from arena_core.legacy.read import (
    DATA_DIR,
    DEFAULT_SEED,
    FALLBACK_SECTION,
    FILE_SECTIONS,
    LegacyMetadata,
    file_name,
    file_roles,
    legacy_target,
    normalise_strategy,
    resolve_recorded,
    role_from_name,
    section_of,
    str_list,
)
from arena_core.session.manifest import SplitSettings, TrainingConfig
from arena_core.session.strategy import Strategy


class LegacyMapper:
    """Reads one legacy session's fields for ``legacy.build``; collects notes on the way."""

    def __init__(self, meta: LegacyMetadata) -> None:
        self.meta = meta
        self.folder = meta.folder
        self.data = meta.data
        self.dc = section_of(meta.data, "dataset_config")
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
                f"{file_name(recorded)} in {DATA_DIR}/ and anywhere in the folder)."
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
                role, key = role_from_name(path.name, keys)
                name = {"onevsall": ONEVSALL_NAME, "consolidated": CONSOLIDATED_NAME}.get(role, key)
                if name and role != "other":
                    targets[name] = self.resolve(FALLBACK_SECTION, name, path.name)
        return file_roles(targets, self.copies.get, result)

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
            value = str_list(raw)
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
        config = section_of(self.data, "split_config")
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
        config = section_of(self.data, "model_config")
        training = TrainingConfig()
        for name in ("epochs", "batch_size", "learning_rate"):
            if config.get(name) is None:
                continue
            try:
                setattr(training, name, config[name])
            except ValueError:
                self.notes.append(f"model_config.{name}={config[name]!r} is invalid: kept default.")
        return training
