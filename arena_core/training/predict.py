"""Predictions of a saved job model (the model/ folder of a job) for a list of texts.

Multi-label models apply the per-label thresholds saved in their config (``DEFAULT_THRESHOLD``
for a label without one); other models return their top label. Every result also carries the
probability of each label (``scores``), so callers can show why a label was (not) chosen.
A ``Predictor`` holds one loaded model so the Predict page can reuse it across clicks;
``PredictorCache`` keeps a few of them, keyed by folder and ``model_fingerprint`` so a
folder rewritten by a relaunch or a resume is reloaded. torch/transformers are imported inside
functions (pages import this module).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena_core.errors import ModelLoadError
from arena_core.training.baseline_store import JSON_NAME as BASELINE_JSON
from arena_core.training.baseline_store import TENSORS_NAME as BASELINE_TENSORS

log = logging.getLogger(__name__)

CONFIG = "config.json"
# Files whose change means a different model: weights (single or sharded) and tokenizer.
MODEL_FILES = (
    CONFIG,
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    BASELINE_JSON,
    BASELINE_TENSORS,
)
DEFAULT_THRESHOLD = 0.5  # as training.evaluation: a label without a tuned threshold
DEFAULT_CACHE_BYTES = 2 * 1024**3  # parameter memory kept by a PredictorCache (~20 MiniLMs)

_loads = 0
_loads_lock = threading.Lock()


def load_count() -> int:
    """How many models ``Predictor.load`` has loaded in this process (logs, cache checks)."""
    return _loads


def _no_model(model_dir: Path) -> ModelLoadError:
    return ModelLoadError(
        f"{model_dir} holds no trained model (no {CONFIG}): train or resume its session first."
    )


def model_fingerprint(model_dir: Path) -> tuple:
    """What identifies the model saved in ``model_dir``: (name, inode, mtime_ns, size) of each
    model file plus a hash of the small config.json (thresholds edited within one clock tick).

    The trainer replaces the whole folder when a better model is saved, so every file gets a new
    inode; a missing file is recorded as None so adding or removing one also changes it.
    """
    model_dir = Path(model_dir)
    # A baseline's folder is described by baseline.json; a transformer's by config.json.
    described_by = BASELINE_JSON if (model_dir / BASELINE_JSON).is_file() else CONFIG
    try:
        config_hash = hashlib.sha256((model_dir / described_by).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise _no_model(model_dir) from None
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {model_dir / described_by}: {exc}.") from exc
    stats: list[tuple] = []
    for name in MODEL_FILES:
        try:
            st = os.stat(model_dir / name)
        except OSError:
            stats.append((name, None))
            continue
        stats.append((name, st.st_ino, st.st_mtime_ns, st.st_size))
    return (config_hash, *stats)


@dataclass
class Predictor:
    """One loaded model with what ``predict`` needs; safe to share between threads."""

    model_dir: Path
    fingerprint: tuple
    tokenizer: Any
    model: Any
    labels: list[str]
    thresholds: dict[str, float]
    multi_label: bool
    positions: int | None  # max_position_embeddings of the model, when it says
    nbytes: int  # parameter memory, for the cache budget
    # The predict stage's precision (training.precision.resolve) and the device the model is
    # on: bf16 where the hardware computes it natively, a CUDA GPU when present.
    precision: str = "fp32"
    device: str = "cpu"
    # Fast tokenizers change their truncation/padding state per call ("Already borrowed"
    # when two threads share one), so calls from several browser tabs take turns.
    _tokenizer_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, model_dir: Path, precision: str | None = None) -> Predictor:
        """Load the tokenizer and model of a job's model/ folder (offline); ``precision`` is
        a TrainingConfig.precision value, resolved for the predict stage on this machine
        (default: the session's own setting, from the job's report)."""
        global _loads
        from arena_core.training.models import force_offline
        from arena_core.training.precision import hardware, resolve

        force_offline()
        from safetensors import SafetensorError
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        fingerprint = model_fingerprint(model_dir)  # taken first: a rewrite during load reloads
        if (model_dir / BASELINE_JSON).is_file():
            return cls._load_baseline(model_dir, fingerprint)
        started = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True
            )
        except (OSError, ValueError, SafetensorError) as exc:
            if not (model_dir / CONFIG).is_file():
                raise _no_model(model_dir) from exc
            raise ModelLoadError(
                f"Cannot load the model in {model_dir}: {exc}. "
                "Its files may be damaged: resume or relaunch the session to save it again."
            ) from exc
        resolved = resolve(
            precision or _session_precision(model_dir), "predict"
        )  # before the move: fp16 without CUDA refused
        device = "cuda" if hardware().cuda else "cpu"
        model.to(device)
        model.eval()
        config = model.config
        with _loads_lock:
            _loads += 1
        log.info("loaded %s in %.2f s", model_dir, time.perf_counter() - started)
        return cls(
            model_dir=model_dir,
            fingerprint=fingerprint,
            tokenizer=tokenizer,
            model=model,
            labels=[config.id2label[i] for i in range(config.num_labels)],
            thresholds=dict(getattr(config, "thresholds", None) or {}),
            multi_label=config.problem_type == "multi_label_classification",
            positions=getattr(config, "max_position_embeddings", None),
            nbytes=sum(p.numel() * p.element_size() for p in model.parameters()),
            precision=resolved,
            device=device,
        )

    @classmethod
    def _load_baseline(cls, model_dir: Path, fingerprint: tuple) -> Predictor:
        """A baseline's model/ folder (``training.baseline_store``): no tokenizer, no torch."""
        global _loads
        from arena_core.training.baseline_store import load_baseline

        baseline = load_baseline(model_dir)
        with _loads_lock:
            _loads += 1
        return cls(
            model_dir=model_dir,
            fingerprint=fingerprint,
            tokenizer=None,
            model=baseline,
            labels=list(baseline.labels),
            thresholds=dict(baseline.thresholds or {}),
            multi_label=baseline.task == "multi",
            positions=None,
            nbytes=int(baseline.coef.nbytes + baseline.intercept.nbytes),
        )

    def predict(
        self, texts: list[str], batch_size: int = 32, max_length: int = 512
    ) -> list[dict[str, Any]]:
        """One dict per text: ``{"label", "score", "scores"}``, or for multi-label models
        ``{"labels", "scores"}`` (labels whose probability reaches their threshold)."""
        texts = ["" if t is None else str(t) for t in texts]
        if self.tokenizer is None:  # a baseline: probabilities straight from its features
            return [self._result(row) for row in self.model.predict_proba(texts).tolist()]
        import torch

        from arena_core.training.precision import autocast

        limit = min(max_length, self.positions or max_length)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        results: list[dict[str, Any] | None] = [None] * len(texts)
        with torch.inference_mode(), autocast(self.precision, self.device):
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                with self._tokenizer_lock:
                    inputs = self.tokenizer(
                        [texts[i] for i in batch],
                        truncation=True,
                        max_length=limit,
                        padding=True,
                        return_tensors="pt",
                    )
                inputs = {name: tensor.to(self.device) for name, tensor in inputs.items()}
                logits = self.model(**inputs).logits.float()  # softmax in fp32, whatever ran
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)
                for i, row in zip(batch, probs.tolist(), strict=True):
                    results[i] = self._result(row)
        return results  # type: ignore[return-value]

    def threshold(self, label: str) -> float:
        """The decision threshold of ``label``: the tuned one saved with the model, else 0.5."""
        return float(self.thresholds.get(label, DEFAULT_THRESHOLD))

    def _result(self, row: list[float]) -> dict[str, Any]:
        scores = dict(zip(self.labels, row, strict=True))
        if self.multi_label:
            chosen = [lab for lab in self.labels if scores[lab] >= self.threshold(lab)]
            return {"labels": chosen, "scores": scores}
        top = max(range(len(row)), key=row.__getitem__)
        return {"label": self.labels[top], "score": row[top], "scores": scores}


def _session_precision(model_dir: Path) -> str:
    """The precision setting the job was trained with (its report's config), so a session set
    to fp32 also predicts in fp32. 'auto' when the report does not say (older or copied model)
    or asks for what this machine lacks (fp16 trained on a GPU, predicted on a CPU)."""
    from arena_core.store.records import read_report
    from arena_core.training.precision import CHOICES, hardware

    report = read_report(model_dir.parent)
    setting = (report.config or {}).get("precision") if report else None
    if setting not in CHOICES or (setting == "fp16" and not hardware().cuda):
        return "auto"
    return setting


def predict_texts(
    model_dir: Path,
    texts: list[str],
    batch_size: int = 32,
    max_length: int = 512,
    precision: str | None = None,
) -> list[dict[str, Any]]:
    """Load the model of ``model_dir`` and predict ``texts`` once (see ``Predictor.predict``)."""
    return Predictor.load(model_dir, precision).predict(texts, batch_size, max_length)


class PredictorCache:
    """Loaded predictors, one per model folder, least recently used dropped first.

    Bounded by parameter memory rather than a count, because one click of the Predict page may
    need many small models (one-vs-all: one per label) or a few large ones. The newest model is
    always kept, even alone over the budget. A folder whose fingerprint changed is reloaded and
    its old model dropped at once. Thread-safe: loads take turns, so two tabs asking for the
    same model load it once.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def is_current(self, model_dir: Path) -> bool:
        """Whether ``get(model_dir)`` would reuse a loaded model (no load needed)."""
        try:
            fingerprint = model_fingerprint(model_dir)
        except ModelLoadError:
            return False
        entry = self._entries.get(str(Path(model_dir)))
        return entry is not None and entry.fingerprint == fingerprint

    def get(
        self,
        model_dir: Path,
        while_loading: Callable[[], AbstractContextManager] = nullcontext,
    ) -> Predictor:
        """The predictor of ``model_dir``, loaded now if absent or if the folder changed
        (inside ``while_loading()``: the page's spinner)."""
        key = str(Path(model_dir))
        with self._lock:
            try:
                fingerprint = model_fingerprint(model_dir)
            except ModelLoadError:
                self._entries.pop(key, None)  # folder gone (deleted session): free its model
                raise
            entry = self._entries.get(key)
            if entry is not None and entry.fingerprint == fingerprint:
                self._entries.move_to_end(key)
                return entry
            self._entries.pop(key, None)  # drop a stale model before loading its successor
            with while_loading():
                entry = Predictor.load(model_dir)
            self._entries[key] = entry
            self._evict()
            return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _evict(self) -> None:
        total = sum(p.nbytes for p in self._entries.values())
        while total > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.nbytes
            log.info("predictor cache: dropped %s", dropped.model_dir)
