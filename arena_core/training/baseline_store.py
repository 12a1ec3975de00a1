"""Save and load baselines without pickle: ``baseline.json`` (names, labels, thresholds,
vectorizer params and vocabularies) + ``baseline.safetensors`` (coefficients, intercepts, idf).

Loading never runs code from the files, so a baseline folder is safe to share. The JSON records
the SHA-256 of the tensor file: a file changed alone (or half-copied) is refused, not misread.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from arena_core.errors import ModelLoadError
from arena_core.store.atomic import atomic_write_bytes
from arena_core.training.baseline_features import EmbedFeatures, TfidfFeatures, vectorizer_kwargs
from arena_core.training.baselines import BaselineModel, parse_name

FORMAT = "arena-baseline"
FORMAT_VERSION = 1
JSON_NAME = "baseline.json"
TENSORS_NAME = "baseline.safetensors"


def save_baseline(model: BaselineModel, folder: Path) -> None:
    """Write both files (tensors first: the JSON, written last, names the tensors' hash)."""
    from safetensors.numpy import save

    kind, inner = parse_name(model.model_name)
    tensors = {"coef": model.coef, "intercept": model.intercept}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model_name": model.model_name,
        "task": model.task,
        "labels": model.labels,
        "thresholds": model.thresholds,
        "chosen_c": model.chosen_c,
    }
    features = model.features
    if isinstance(features, TfidfFeatures):
        meta["vectorizers"] = []
        for i, vec in enumerate(features.vectorizers):
            params = {k: vec.get_params()[k] for k in _TFIDF_KEYS}
            params["ngram_range"] = list(params["ngram_range"])
            vocabulary = {term: int(col) for term, col in vec.vocabulary_.items()}
            meta["vectorizers"].append({"params": params, "vocabulary": vocabulary})
            tensors[f"idf_{i}"] = np.asarray(vec.idf_, dtype=np.float64)
    else:
        meta["embed_model"] = inner  # the name ('minilm'), re-resolved on load: no machine path
        meta["max_length"] = features.max_length
    data = save({k: np.ascontiguousarray(v) for k, v in tensors.items()})
    meta["tensors_sha256"] = hashlib.sha256(data).hexdigest()
    folder = Path(folder)
    atomic_write_bytes(folder / TENSORS_NAME, data)
    atomic_write_bytes(folder / JSON_NAME, json.dumps(meta, ensure_ascii=False).encode())


# Every TfidfVectorizer setting that changes transform(); the rest only matters when fitting.
_TFIDF_KEYS = (
    "analyzer",
    "ngram_range",
    "lowercase",
    "strip_accents",
    "token_pattern",
    "stop_words",
    "norm",
    "use_idf",
    "smooth_idf",
    "sublinear_tf",
    "binary",
)


def _damaged(folder: Path, why: str) -> ModelLoadError:
    return ModelLoadError(f"The baseline in {folder} is unusable ({why}): train it again.")


def load_baseline(folder: Path) -> BaselineModel:
    """The baseline saved by ``save_baseline``; ModelLoadError if missing, damaged or tampered."""
    from safetensors.numpy import load

    folder = Path(folder)
    try:
        meta = json.loads((folder / JSON_NAME).read_text(encoding="utf-8"))
        data = (folder / TENSORS_NAME).read_bytes()
    except FileNotFoundError as exc:
        raise _damaged(folder, f"{Path(exc.filename).name} is missing") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(folder, f"cannot read it: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _damaged(folder, f"{JSON_NAME} is not a baseline description")
    if meta.get("format_version") != FORMAT_VERSION:
        raise _damaged(folder, f"format version {meta.get('format_version')!r} is not supported")
    if hashlib.sha256(data).hexdigest() != meta.get("tensors_sha256"):
        raise _damaged(folder, f"{TENSORS_NAME} does not match {JSON_NAME}")
    try:
        tensors = load(data)
        return _build(meta, tensors)
    except ModelLoadError:
        raise
    except Exception as exc:  # wrong keys, types or shapes in a file that passed the hash
        raise _damaged(folder, f"{type(exc).__name__}: {exc}") from exc


def _build(meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> BaselineModel:
    kind, inner = parse_name(meta["model_name"])
    labels = [str(label) for label in meta["labels"]]
    coef, intercept = tensors["coef"], tensors["intercept"]
    if kind != meta["kind"] or meta["task"] not in ("single", "multi"):
        raise ValueError(f"kind {meta['kind']!r} / task {meta['task']!r} do not fit")
    if coef.ndim != 2 or coef.shape[0] != len(labels) or intercept.shape != (len(labels),):
        raise ValueError(f"coefficients {coef.shape} do not fit {len(labels)} labels")
    features: TfidfFeatures | EmbedFeatures
    if kind == "tfidf":
        blocks = meta["vectorizers"]
        idfs = [tensors[f"idf_{i}"] for i in range(len(blocks))]
        vocabularies = [block["vocabulary"] for block in blocks]
        for vocabulary, idf in zip(vocabularies, idfs, strict=True):
            if sorted(vocabulary.values()) != list(range(len(idf))):
                raise ValueError("a vocabulary does not index its idf vector")
        features = _rebuild_tfidf([b["params"] for b in blocks], vocabularies, idfs)
        if sum(len(v) for v in vocabularies) != coef.shape[1]:
            raise ValueError(f"the vocabularies do not fit {coef.shape[1]} weights")
    else:
        features = EmbedFeatures(str(meta.get("embed_model") or inner), int(meta["max_length"]))
    thresholds = meta.get("thresholds")
    if thresholds is not None:
        thresholds = {str(k): float(v) for k, v in thresholds.items()}
    return BaselineModel(
        meta["model_name"],
        meta["task"],
        labels,
        features,
        coef,
        intercept,
        thresholds,
        float(meta["chosen_c"]),
    )


def _rebuild_tfidf(params: list[dict[str, Any]], vocabularies: list[dict[str, int]], idfs):
    """Fresh vectorizers given the saved vocabulary and idf: transform() as when fitted."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizers = []
    for p, vocabulary, idf in zip(params, vocabularies, idfs, strict=True):
        vec = TfidfVectorizer(vocabulary=vocabulary, **vectorizer_kwargs(p))
        vec.idf_ = np.asarray(idf, dtype=np.float64)
        vectorizers.append(vec)
    return TfidfFeatures(vectorizers)
