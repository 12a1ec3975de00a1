"""Real labelled text collections for the quality benchmark, all installed from Debian's archive.

Each collection is read from files that Debian packages put on disk (or, for
``debian_packages``, from the archive index that apt itself fetches), so a fresh machine gets
them with apt and no other download. Rows are cleaned (overstrikes and control characters out,
whitespace trimmed, texts cut at 2,000 characters), de-duplicated (case and whitespace folded;
a text found under two labels is dropped altogether) and labels with fewer than
``MIN_LABEL_ROWS`` rows are left out.

``fortunes_en``  English fortune cookies (Debian ``fortunes``: the fortune-mod 1.99.1 data, the
    BSD fortune files as maintained in Debian; quotations by many authors). Label: the fortune
    file the cookie comes from (10 topical files: people, definitions, computers, ...).
``fortunes_intl``  Fortune cookies in German, Spanish, Italian, Russian and Polish (Debian
    ``fortunes-de``, ``-es``, ``-ru``, ``-pl``: GPL-2+; ``fortunes-it``: free redistribution, see
    its copyright file). Label: a topic shared across languages, given by the file's name
    (``es/informatica`` and ``de/computer`` are both ``computers``); a ``language`` column.
    No file gives more than 1,000 cookies (so ``es/refranes`` does not make "proverbs" Spanish).
    Disjoint from ``fortunes_en``.
``wordnet_nouns``  WordNet 3.0 noun glosses (Debian ``wordnet-base``; WordNet 3.0 license,
    Princeton University, BSD-like). Label: the synset's lexicographer file (noun.artifact,
    noun.person, ...): 8 of the 26 noun files. Short texts.
``debian_packages``  Long descriptions of the packages in Debian ``main`` (the archive's
    ``Packages`` and ``Translation-en`` index of the release apt points at; descriptions written
    by Debian's maintainers, free to mirror). Label: the package's Section (10 application
    sections: net, science, games, ...). Long texts. The two index files are fetched with
    ``apt-helper download-file``, checked against apt's InRelease, into ARENA_QUALITY_DATA_DIR
    (default ~/.cache/arena-bench/quality-data) and kept there: later ``apt-get update`` runs do
    not change the snapshot a machine benchmarks on (a fresh machine gets the current point
    release; ``--describe`` prints which).

Only data comes from here; the benchmark that trains on it is elsewhere. See ``--list``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import quality_sources as sources

SIZES = (300, 1000, 5000)
MIN_LABEL_ROWS = 100
PER_FILE_CAP = 1000  # fortunes_intl: cookies taken from one file at most
ENV_DIR = "ARENA_QUALITY_DATA_DIR"
FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
APT_LOCK = ("-o", "DPkg::Lock::Timeout=600")


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    description: str
    origin: str  # where the texts come from and under which terms
    label_source: str  # what the label is
    labels: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    debian_packages: tuple[str, ...] = ()
    pypi_packages: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # what must exist (paths; relative ones are under data_dir())
    fetch: Callable[[Path], object] | None = field(default=None, repr=False)

    @property
    def multilingual(self) -> bool:
        return len(self.languages) > 1


FORTUNES_EN = {
    label: (label,)
    for label in (
        "people",
        "definitions",
        "computers",
        "songs-poems",
        "politics",
        "work",
        "science",
        "men-women",
        "art",
        "wisdom",
    )
}
FORTUNES_INTL = {
    "computers": (
        "de/computer",
        "es/informatica.fortunes",
        "it/computer",
        "ru/computer",
        "ru/programming",
        "pl/komputery",
    ),
    "love": ("es/sentimientos.fortunes", "ru/love", "ru/lovers", "pl/milosc"),
    "jokes": ("de/witze", "pl/dowcipy", "ru/armenian"),
    "politics": ("es/poder.fortunes", "es/libertad.fortunes", "ru/polit", "ru/war"),
    "proverbs": (
        "es/refranes.fortunes",
        "es/proverbios.fortunes",
        "de/sprichworte",
        "de/regeln",
    ),
    "laws": ("es/leydemurphy.fortunes", "ru/murphy", "it/leggi", "de/murphy"),
    "science": ("es/ciencia.fortunes", "de/mathematiker", "ru/knowledge"),
    "art": ("es/arte.fortunes", "ru/art"),
}
WORDNET_LABELS = tuple(
    f"noun.{n}"
    for n in ("artifact", "person", "plant", "animal", "act", "communication", "location", "food")
)
DEBIAN_SECTIONS = (
    "net",
    "science",
    "admin",
    "games",
    "text",
    "sound",
    "graphics",
    "web",
    "math",
    "mail",
)
DEBIAN_INDEX = "debian-index"  # folder under data_dir()


def data_dir() -> Path:
    """Where fetched data is kept (ARENA_QUALITY_DATA_DIR, else ~/.cache/arena-bench/...)."""
    default = Path.home() / ".cache" / "arena-bench" / "quality-data"
    return Path(os.environ.get(ENV_DIR) or default)


COLLECTIONS: dict[str, CollectionInfo] = {
    info.name: info
    for info in (
        CollectionInfo(
            name="fortunes_en",
            description="English fortune cookies: quotations, jokes, definitions, verse",
            origin="Debian package fortunes (fortune-mod 1.99.1 data, BSD fortune heritage)",
            label_source="the fortune file the cookie comes from",
            labels=tuple(FORTUNES_EN),
            debian_packages=("fortunes",),
            files=tuple(str(FORTUNES / p) for ps in FORTUNES_EN.values() for p in ps),
        ),
        CollectionInfo(
            name="fortunes_intl",
            description="Fortune cookies in 5 languages, labelled by a cross-language topic",
            origin="Debian packages fortunes-de/-es/-ru/-pl (GPL-2+), fortunes-it (free policy)",
            label_source="topic given by the fortune file's name (see FORTUNES_INTL)",
            labels=tuple(FORTUNES_INTL),
            languages=("de", "es", "it", "ru", "pl"),
            debian_packages=(
                "fortunes-de",
                "fortunes-es",
                "fortunes-it",
                "fortunes-pl",
                "fortunes-ru",
            ),
            files=tuple(str(FORTUNES / p) for ps in FORTUNES_INTL.values() for p in ps),
        ),
        CollectionInfo(
            name="wordnet_nouns",
            description="WordNet 3.0 noun glosses (definitions with examples)",
            origin="Debian package wordnet-base (WordNet 3.0 license, Princeton University)",
            label_source="the synset's lexicographer file (noun supersense)",
            labels=WORDNET_LABELS,
            debian_packages=("wordnet-base",),
            files=(str(WORDNET / "data.noun"),),
        ),
        CollectionInfo(
            name="debian_packages",
            description="Debian package long descriptions (synopsis + body)",
            origin="Debian archive index of main (Packages + Translation-en), via apt-helper",
            label_source="the package's Section",
            labels=DEBIAN_SECTIONS,
            files=(f"{DEBIAN_INDEX}/release.json",),
            fetch=lambda folder: sources.fetch_debian_index(folder / DEBIAN_INDEX),
        ),
    )
}


class CollectionMissing(RuntimeError):
    """A collection's packages or files are not on this machine."""


def _names(names: str | Iterable[str] | None) -> list[str]:
    chosen = list(COLLECTIONS) if names is None else [names] if isinstance(names, str) else names
    unknown = [n for n in chosen if n not in COLLECTIONS]
    if unknown:
        raise ValueError(f"unknown collection(s) {unknown}; known: {', '.join(COLLECTIONS)}")
    return list(chosen)


def _apt_install_command(packages: Iterable[str]) -> str:
    return (
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends " + " ".join(sorted(packages))
    )


def install_hint(name: str) -> str:
    """The exact command that makes collection ``name`` available."""
    info = COLLECTIONS[_names(name)[0]]
    parts = []
    if info.debian_packages:
        parts.append(_apt_install_command(info.debian_packages))
    if info.pypi_packages:
        parts.append(f"{sys.executable} -m pip install " + " ".join(info.pypi_packages))
    if info.fetch is not None:
        parts.append(f"apt-get update && python -m bench.quality_data --install {name}")
    return " && ".join(parts)


def missing(names: str | Iterable[str] | None = None) -> list[str]:
    """The collections among ``names`` (default all) whose files are not there."""
    absent = []
    for name in _names(names):
        paths = [data_dir() / f for f in COLLECTIONS[name].files]  # absolute paths stay
        if not all(p.is_file() for p in paths):
            absent.append(name)
    return absent


def ensure_installed(names: str | Iterable[str] | None = None, install: bool = False) -> list[str]:
    """The collections among ``names`` that were missing. With ``install`` they are installed
    (apt-get update + install -y, and the Debian index fetch); without it a missing one raises
    CollectionMissing naming the command."""
    absent = missing(names)
    if not absent:
        return []
    if not install:
        hints = "\n".join(f"  {n}: {install_hint(n)}" for n in absent)
        raise CollectionMissing(f"quality data not installed:\n{hints}")
    packages = sorted({p for n in absent for p in COLLECTIONS[n].debian_packages})
    pypi = sorted({p for n in absent for p in COLLECTIONS[n].pypi_packages})
    needs_lists = packages or (
        any(COLLECTIONS[n].fetch for n in absent) and sources.debian_release() is None
    )
    if needs_lists:
        _run(["apt-get", *APT_LOCK, "update"])
    if packages:
        _run(["apt-get", *APT_LOCK, "install", "-y", "--no-install-recommends", *packages])
    if pypi:
        _run([sys.executable, "-m", "pip", "install", *pypi])
    for name in absent:
        if COLLECTIONS[name].fetch is not None:
            COLLECTIONS[name].fetch(data_dir())
    still = missing(absent)
    if still:
        raise CollectionMissing(f"still missing after the install: {', '.join(still)}")
    return absent


def _run(command: list[str], tries: int = 6) -> None:
    """Run an install command, waiting out another apt holding its lock."""
    print("+", shlex.join(command), flush=True)
    for attempt in range(tries):
        done = subprocess.run(
            command, env={**os.environ, **APT_ENV}, capture_output=True, text=True
        )
        if done.returncode == 0:
            return
        if "lock" not in (done.stderr + done.stdout).lower() or attempt == tries - 1:
            raise CollectionMissing(f"`{shlex.join(command)}` failed:\n{done.stdout}{done.stderr}")
        time.sleep(20)


# --------------------------------------------------------------------------- loading


def _rows(name: str) -> list[dict[str, str]]:
    if name == "fortunes_en":
        return sources.fortune_rows(FORTUNES, FORTUNES_EN)
    if name == "fortunes_intl":
        return sources.fortune_rows(FORTUNES, FORTUNES_INTL, per_file_cap=PER_FILE_CAP)
    if name == "wordnet_nouns":
        return sources.wordnet_rows(WORDNET / "data.noun", WORDNET_LABELS)
    if name == "debian_packages":
        folder = data_dir() / DEBIAN_INDEX
        meta = json.loads((folder / "release.json").read_text(encoding="utf-8"))
        packages = sources.read_compressed(folder / meta["packages"])
        translation = sources.read_compressed(folder / meta["translation"])
        return sources.debian_rows(packages, translation, DEBIAN_SECTIONS)
    raise ValueError(f"unknown collection {name!r}")


def finish(rows: list[dict[str, str]], multilingual: bool = False) -> pd.DataFrame:
    """Rows as the cleaned, de-duplicated frame: ``text``, ``label`` (and ``language``), sorted
    by label then text, labels under MIN_LABEL_ROWS left out."""
    columns = ["text", "label", "language"] if multilingual else ["text", "label"]
    frame = pd.DataFrame(rows, columns=columns).astype(str)
    frame = frame[frame["text"].str.len() > 0]
    key = frame["text"].map(lambda t: " ".join(t.split()).casefold())
    labels_per_key = frame.groupby(key)["label"].transform("nunique")
    frame = frame[labels_per_key == 1].sort_values(["label", "text"], kind="stable")
    frame = frame[~key[frame.index].duplicated()]  # the first in sorted order: input order free
    counts = frame["label"].value_counts()
    frame = frame[frame["label"].isin(counts[counts >= MIN_LABEL_ROWS].index)]
    return frame.reset_index(drop=True)


@functools.cache
def _frame(name: str) -> pd.DataFrame:
    ensure_installed(name)
    return finish(_rows(name), COLLECTIONS[name].multilingual)


def collection_frame(name: str) -> pd.DataFrame:
    """Every usable row of collection ``name`` (a copy), before any sampling."""
    return _frame(_names(name)[0]).copy()


def stratified_sample(frame: pd.DataFrame, size: int, seed: int = 0) -> pd.DataFrame:
    """``size`` rows of ``frame`` keeping its label proportions (largest remainders; each label
    within one row of ``size * share``), chosen and shuffled by ``seed``."""
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if size > len(frame):
        raise ValueError(f"asked for {size} rows but only {len(frame)} usable rows exist")
    counts = frame["label"].value_counts().sort_index()
    quota = counts * size // len(frame)
    remainder = counts * size % len(frame)
    extra = sorted(counts.index, key=lambda label: (-remainder[label], label))
    quota[extra[: size - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    labels = frame["label"].to_numpy()
    chosen = [
        np.flatnonzero(labels == label)[rng.permutation(int(counts[label]))[: int(quota[label])]]
        for label in counts.index
    ]
    order = rng.permutation(np.concatenate(chosen))
    return frame.iloc[order].reset_index(drop=True)


def load_collection(name: str, size: int, seed: int = 0) -> pd.DataFrame:
    """A stratified sample of ``size`` rows of collection ``name``: columns ``text``, ``label``
    (and ``language`` when multilingual). Same (name, size, seed), same rows in the same order.
    ValueError when the collection has fewer usable rows than ``size``."""
    frame = _frame(_names(name)[0])
    if size > len(frame):
        raise ValueError(f"collection {name!r} has only {len(frame)} usable rows; asked for {size}")
    return stratified_sample(frame, size, seed)


def describe(name: str) -> dict[str, object]:
    """Rows, label and language counts, text lengths and supported sizes of ``name``."""
    frame = _frame(_names(name)[0])
    lengths = frame["text"].str.len()
    info = {
        "name": name,
        "rows": len(frame),
        "labels": frame["label"].value_counts().to_dict(),
        "median_chars": int(lengths.median()),
        "p10_chars": int(lengths.quantile(0.1)),
        "p90_chars": int(lengths.quantile(0.9)),
        "max_chars": int(lengths.max()),
        "sizes": [s for s in SIZES if s <= len(frame)],
    }
    if COLLECTIONS[name].multilingual:
        info["languages"] = frame["language"].value_counts().to_dict()
    if COLLECTIONS[name].fetch is not None:
        release = data_dir() / DEBIAN_INDEX / "release.json"
        meta = json.loads(release.read_text(encoding="utf-8"))
        info["release"] = f"{meta['origin']} {meta['codename']} {meta['version']} ({meta['date']})"
    return info


def _print_describe(name: str) -> None:
    info, meta = describe(name), COLLECTIONS[name]
    print(f"{name}: {meta.description}\n  origin: {meta.origin}\n  label: {meta.label_source}")
    if "release" in info:
        print(f"  release: {info['release']}")
    print(f"  rows: {info['rows']}   sizes: {info['sizes']}")
    print(
        f"  chars: median {info['median_chars']}, p10 {info['p10_chars']}, "
        f"p90 {info['p90_chars']}, max {info['max_chars']}"
    )
    frame = _frame(name)
    median = frame.groupby("label")["text"].apply(lambda t: int(t.str.len().median()))
    for label, count in info["labels"].items():
        share = 100 * count / info["rows"]
        print(f"  {label:<20} {count:>6} {share:5.1f} %  median {median[label]} chars")
    for language, count in info.get("languages", {}).items():
        print(f"  language {language:<11} {count:>6} {100 * count / info['rows']:5.1f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_data", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="each collection: rows, labels")
    group.add_argument("--install", nargs="*", metavar="NAME", help="install (default: all)")
    group.add_argument("--describe", metavar="NAME", help="label distribution and lengths")
    args = parser.parse_args(argv)
    if args.install is not None:
        done = ensure_installed(args.install or None, install=True)
        print("installed:", ", ".join(done) if done else "nothing was missing")
        return 0
    if args.describe:
        if args.describe in missing(args.describe):
            print(f"{args.describe} is not installed: {install_hint(args.describe)}")
            return 1
        _print_describe(args.describe)
        return 0
    absent = missing()
    print(f"{'name':<16} {'rows':>6} {'labels':>6} {'median chars':>12}  languages")
    for name, meta in COLLECTIONS.items():
        if name in absent:
            print(f"{name:<16} missing: {install_hint(name)}")
            continue
        info = describe(name)
        print(
            f"{name:<16} {info['rows']:>6} {len(info['labels']):>6} "
            f"{info['median_chars']:>12}  {','.join(meta.languages)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
