"""Language detection for datasets without a language column (lingua, offline).

The detector is built once per process and per language set; lingua is imported lazily so that
pages and the CLI start fast when no detection is asked for.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from arena_core.errors import DatasetError

log = logging.getLogger(__name__)

# A small default set keeps detection fast and avoids exotic false positives on short texts.
DEFAULT_LANGUAGES: tuple[str, ...] = ("EN", "FR", "DE", "ES", "IT", "PT", "NL")
MAX_CHARS = 1000  # enough to tell a language apart; bounds the cost of huge cells


@functools.lru_cache(maxsize=8)
def _detector(codes: tuple[str, ...]) -> Any:
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:  # pragma: no cover - installed with the project
        raise DatasetError(
            "Language detection needs the package lingua-language-detector; install it, "
            "or choose a language column instead."
        ) from None
    isos = []
    for code in codes:
        try:
            isos.append(getattr(IsoCode639_1, code))
        except AttributeError:
            raise DatasetError(
                f"'{code}' is not an ISO 639-1 language code lingua knows (e.g. EN, FR)."
            ) from None
    if len(isos) < 2:
        raise DatasetError("Language detection needs at least two candidate languages.")
    log.info("building language detector for %s", ",".join(codes))
    return LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_low_accuracy_mode().build()


def detect_languages(
    texts: Sequence[str], languages: Sequence[str] = DEFAULT_LANGUAGES
) -> list[str | None]:
    """Upper-case ISO 639-1 code per text (``None`` when lingua cannot tell)."""
    codes = tuple(sorted({str(c).strip().upper() for c in languages}))
    detector = _detector(codes)
    clipped = [str(t)[:MAX_CHARS] if t is not None else "" for t in texts]
    found = detector.detect_languages_in_parallel_of(clipped)
    return [lang.iso_code_639_1.name if lang is not None else None for lang in found]
