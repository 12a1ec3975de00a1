"""Hub models: whether one is in the local Hugging Face cache, and its explicit download.

The process stays offline (``models.force_offline``): training and session creation only read
the cache. ``download`` is the one exception, called on an explicit user action (the Strategy
page's Download button, ``arena download-model``): it lifts HF_HUB_OFFLINE for the duration of
that call only, fetches just what a classifier needs (config, tokenizer files, safetensors
weights) into the usual cache, and turns every failure into one ``ModelLoadError`` line.

huggingface_hub is imported inside functions so that pages and the CLI import this cheaply.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arena_core.errors import ModelLoadError

Progress = Callable[[float, str], None]

CONFIG = "config.json"
TOKENIZER_FILES = {
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
}
TOKENIZER_SUFFIXES = (".model", ".spm")  # sentencepiece vocabularies (spm.model, spiece.model)
WEIGHT_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
POLL_S = 0.25  # how often the caller's thread looks at the download's progress
ENDPOINT_ENV = "HF_ENDPOINT"
OFFLINE_ENV = "HF_HUB_OFFLINE"
_ONLINE = threading.Lock()  # one download at a time: each restores the offline state it found
WHAT_TO_DO = (
    "connect this machine to the internet and retry, or copy the model's folder here "
    "(from a machine that has it) and give its path as the model"
)


# ---------------------------------------------------------------- the cache, never the network


def cached_snapshot(hub_id: str) -> Path | None:
    """The cached snapshot folder of ``hub_id`` (its 'main' revision) holding a config and
    weights, or None. Reads the cache folder only: a few stat calls, no network."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(hub_id.strip(), CONFIG)
    except Exception:  # not a valid repo id (HFValidationError) and the like: not cached
        return None
    if not isinstance(found, str):
        return None
    folder = Path(found).parent
    return folder if _has_weights(folder) else None


def is_cached(hub_id: str) -> bool:
    """Whether ``hub_id`` can be trained offline: its config and weights are in the cache."""
    return cached_snapshot(hub_id) is not None


def _has_weights(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return any(n.endswith(".safetensors") or n in PICKLE_WEIGHTS for n in names)


# ---------------------------------------------------------------- which files to fetch


def wanted_files(names: list[str]) -> list[str]:
    """The repository files a classifier needs: config, tokenizer files, safetensors weights.

    Only top-level files (no onnx/, openvino/ or sentence-transformers module folders); no
    pickle (``.bin``), TensorFlow or Flax weights, which are large and unused here.
    """
    keep = []
    for name in names:
        if "/" in name:
            continue
        tokenizer = name in TOKENIZER_FILES or name.endswith(TOKENIZER_SUFFIXES)
        weights = name == WEIGHT_INDEX or (
            name.startswith("model") and name.endswith(".safetensors")
        )
        if name == CONFIG or tokenizer or weights:
            keep.append(name)
    return sorted(keep)


def check_files(hub_id: str, names: list[str]) -> list[str]:
    """``wanted_files``, or ModelLoadError when the repository cannot make a classifier here
    (no config.json, or weights only as pickle ``.bin`` files)."""
    keep = wanted_files(names)
    if CONFIG not in keep:
        raise ModelLoadError(
            f"Model '{hub_id}' has no config.json on the Hugging Face hub, so it is not a "
            "transformers model: pick another model (see 'arena models')."
        )
    if not any(n.endswith(".safetensors") for n in keep):
        raise ModelLoadError(
            f"Model '{hub_id}' publishes its weights only as PyTorch .bin files, which Training "
            "Arena does not download (pickle files can run code when loaded): pick another "
            "model (see 'arena models'), or convert it to safetensors and give its folder."
        )
    return keep


# ---------------------------------------------------------------- the download


def download(hub_id: str, progress: Progress | None = None) -> Path:
    """Fetch ``hub_id`` into the Hugging Face cache and return its snapshot folder.

    Only for an explicit user action. ``progress(fraction, message)`` is called from the
    caller's thread (Streamlit widgets can only be updated from there), a few times a second.
    Raises ModelLoadError, with one line saying which model, why and what to do.
    """
    from arena_core.training.models import PACKAGED_ALIASES, TINY

    hub_id = (hub_id or "").strip()
    if not hub_id or hub_id.lower() in PACKAGED_ALIASES or hub_id.lower() == TINY:
        raise ModelLoadError(
            f"'{hub_id}' is not a hub id to download: 'minilm' and 'tiny' are packaged; give "
            "a Hugging Face id such as 'xlm-roberta-base' (see 'arena models')."
        )
    _check_id(hub_id)
    report = progress or (lambda fraction, message: None)
    endpoint = os.environ.get(ENDPOINT_ENV) or None  # read now: a mirror set after import counts
    with _online():
        try:
            sizes = _list_files(hub_id, endpoint)
            files = check_files(hub_id, list(sizes))
            total = sum(sizes.get(name) or 0 for name in files)
            report(0.0, f"{hub_id}: {len(files)} files" + (f", {_mb(total)}" if total else ""))
            folder = _fetch(hub_id, files, total, endpoint, report)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(_failure(hub_id, exc)) from exc
    report(1.0, f"{hub_id}: downloaded ({len(files)} files)")
    return folder


def _check_id(hub_id: str) -> None:
    """Refuse what cannot be a hub id (paths, spaces, '..') before going online."""
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(hub_id)
    except Exception as exc:  # HFValidationError
        raise ModelLoadError(
            f"'{hub_id}' is not a Hugging Face model id (like 'xlm-roberta-base' or "
            "'org/name'): check it, or give a local folder as the model instead."
        ) from exc


@contextmanager
def _online() -> Iterator[None]:
    """Lift HF_HUB_OFFLINE (constant and variable) inside the block, then restore what was.

    Process-wide while it lasts, so the block holds a lock and covers the download only.
    """
    from huggingface_hub import constants

    with _ONLINE:
        saved_flag, saved_env = constants.HF_HUB_OFFLINE, os.environ.get(OFFLINE_ENV)
        constants.HF_HUB_OFFLINE = False
        os.environ[OFFLINE_ENV] = "0"
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE = saved_flag
            if saved_env is None:
                os.environ.pop(OFFLINE_ENV, None)
            else:
                os.environ[OFFLINE_ENV] = saved_env


def _list_files(hub_id: str, endpoint: str | None) -> dict[str, int | None]:
    """File name -> size in bytes (None when the hub does not say), in one request."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint).model_info(hub_id, files_metadata=True)
    return {s.rfilename: s.size for s in info.siblings or []}


def _fetch(
    hub_id: str,
    files: list[str],
    total: int,
    endpoint: str | None,
    report: Progress,
) -> Path:
    """snapshot_download in a helper thread while this thread reports its progress
    (``total``: the files' bytes, 0 when unknown)."""
    from huggingface_hub import snapshot_download

    bars: list[Any] = []
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["folder"] = snapshot_download(
                hub_id, allow_patterns=files, endpoint=endpoint, tqdm_class=_bar_class(bars)
            )
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"download {hub_id}", daemon=True)
    thread.start()
    last = None
    while thread.is_alive():
        thread.join(POLL_S)
        now = _progress_of(bars, total, len(files))
        if now != last:
            last = now
            report(now[0], f"{hub_id}: {now[1]}")
    if "error" in outcome:
        raise outcome["error"]
    return Path(outcome["folder"])


def _progress_of(bars: list[Any], total: int, n_files: int) -> tuple[float, str]:
    """(fraction, words) from the bars snapshot_download drew: bytes when sizes are known."""
    done_bytes = max((int(b.n) for b in list(bars) if b.unit == "B"), default=0)
    done_files = max((int(b.n) for b in list(bars) if b.unit != "B"), default=0)
    if total > 0:
        fraction = min(done_bytes / total, 0.99)
        return fraction, f"{_mb(done_bytes)} of {_mb(total)}"
    return min(done_files / max(n_files, 1), 0.99), f"{done_files} of {n_files} files"


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.0f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:,.0f} kB"


def _bar_class(bars: list[Any]) -> type:
    """A silent tqdm class that records its bars in ``bars`` (their counts are the progress)."""
    from tqdm.std import tqdm

    class _Bar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)  # huggingface_hub's own bar option, unknown to tqdm
            kwargs.update(disable=False, file=io.StringIO())  # count, but print nowhere
            super().__init__(*args, **kwargs)
            bars.append(self)

    return _Bar


def _failure(hub_id: str, exc: BaseException) -> str:
    """One line: which model, that it could not be downloaded, why in short, what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return (
            f"Model '{hub_id}' could not be downloaded: it is gated on the Hugging Face hub. "
            "Accept its conditions on huggingface.co, log in with 'hf auth login', and retry."
        )
    if isinstance(exc, RepositoryNotFoundError | RevisionNotFoundError):
        return (
            f"Model '{hub_id}' could not be downloaded: the Hugging Face hub has no such "
            "public model. Check the id (see 'arena models' for suggestions)."
        )
    reason = " ".join(str(exc).split())[:160] or type(exc).__name__
    return f"Model '{hub_id}' could not be downloaded ({reason}): {WHAT_TO_DO}."
