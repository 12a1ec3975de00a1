"""Readers for the quality benchmark's real text collections (see bench/quality_data.py).

Three sources, all from Debian's archive, read with the standard library only:

* fortune files (``fortunes``, ``fortunes-de`` ... packages): cookies separated by ``%`` lines;
* WordNet 3.0 data files (``wordnet-base``): one synset a line, lexicographer file number in
  the second field, gloss after ``" | "``;
* the Debian archive's own index: ``Packages`` (Section, Description-md5) joined to
  ``Translation-en`` (the long descriptions), fetched with ``apt-helper download-file`` and
  checked against the SHA256 sums of the ``InRelease`` file that ``apt-get update`` left.

Nothing here samples or labels; it only turns files into (text, label[, language]) rows.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_CHARS = 2000  # texts are cut here (at a word boundary when one is near)
APT_HELPER = "/usr/lib/apt/apt-helper"

_OVERSTRIKE = re.compile(r".\x08")  # "_\bX" underlining / bold in old fortune files
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # keeps \t and \n


def clean_text(raw: str, max_chars: int = MAX_CHARS) -> str:
    """Overstrikes and control characters out, line ends trimmed, capped at ``max_chars``."""
    text = _CONTROL.sub("", _OVERSTRIKE.sub("", raw.replace("\r\n", "\n")))
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    if len(text) > max_chars:
        cut = text[:max_chars]
        space = max(cut.rfind(" "), cut.rfind("\n"))
        text = (cut[:space] if space > max_chars - 200 else cut).rstrip()
    return text


# --------------------------------------------------------------------------- fortune files


def fortune_cookies(path: Path) -> list[str]:
    """The cookies of one fortune file, raw (between ``%`` lines), empty ones left out."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    return [part for part in re.split(r"^%[ \t]*$", raw, flags=re.M) if part.strip()]


def fortune_rows(
    root: Path,
    files: dict[str, tuple[str, ...]],
    per_file_cap: int | None = None,
) -> list[dict[str, str]]:
    """Rows for ``files`` (label -> file paths relative to ``root``, ``lang/name``).

    The language is the first path part when there is one (``de/witze`` -> ``de``), else
    ``en``. With ``per_file_cap`` a file gives at most that many cookies: the ones whose text
    hashes lowest, so the choice does not depend on the file's order.
    """
    rows = []
    for label, paths in files.items():
        for rel in paths:
            cookies = [clean_text(c) for c in fortune_cookies(root / rel)]
            if per_file_cap is not None and len(cookies) > per_file_cap:
                cookies = sorted(cookies, key=_digest)[:per_file_cap]
            language = rel.split("/")[0] if "/" in rel else "en"
            rows += [{"text": c, "label": label, "language": language} for c in cookies]
    return rows


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- WordNet

# WordNet 3.0 lexicographer files, numbered as in its lexnames file (not shipped by Debian).
LEXNAMES = (  # noqa: SIM905 - the lexnames file, as a word list
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


def wordnet_rows(path: Path, lexnames: Iterable[str]) -> list[dict[str, str]]:
    """(gloss, lexicographer file) rows of one WordNet ``data.*`` file, for ``lexnames`` only."""
    wanted = set(lexnames)
    rows = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("  "):  # the license header
                continue
            head, bar, gloss = line.partition(" | ")
            fields = head.split()
            if not bar or len(fields) < 2 or not fields[1].isdigit():
                continue
            number = int(fields[1])
            lexname = LEXNAMES[number] if number < len(LEXNAMES) else ""
            if lexname in wanted:
                rows.append({"text": clean_text(gloss), "label": lexname})
    return rows


# --------------------------------------------------------------------------- Debian's index


def deb822(text: str, fields: Iterable[str]) -> Iterator[dict[str, str]]:
    """Stanzas of a Debian control-style file, keeping only ``fields`` (multi-line values kept
    with their continuation lines, leading space and all)."""
    keep = set(fields)
    for block in text.split("\n\n"):
        stanza: dict[str, str] = {}
        key = None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t"):
                if key is not None:
                    stanza[key] += "\n" + line
            else:
                name, colon, value = line.partition(":")
                key = name if colon and name in keep else None
                if key is not None:
                    stanza[key] = value.strip()
        if stanza:
            yield stanza


def long_description(value: str) -> str:
    """A ``Description-en`` value as text: the synopsis, then the body without the leading
    space, `` .`` lines as blank lines."""
    lines = value.split("\n")
    body = ["" if line.strip() == "." else line[1:] for line in lines[1:]]
    return clean_text("\n".join([lines[0], *body]))


def debian_rows(packages: str, translation: str, sections: Iterable[str]) -> list[dict[str, str]]:
    """(long description, Section) rows: ``Packages`` joined to ``Translation-en`` by md5."""
    wanted = set(sections)
    descriptions = {
        s["Description-md5"]: s["Description-en"]
        for s in deb822(translation, ("Description-md5", "Description-en"))
        if "Description-md5" in s and "Description-en" in s
    }
    rows = []
    for stanza in deb822(packages, ("Section", "Description-md5")):
        section = stanza.get("Section", "")
        text = descriptions.get(stanza.get("Description-md5", ""))
        if section in wanted and text is not None:
            rows.append({"text": long_description(text), "label": section})
    return rows


def read_compressed(path: Path) -> str:
    """A ``.xz``, ``.bz2``, ``.gz`` or plain index file as text."""
    opener = {".xz": lzma.open, ".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        return handle.read()


def debian_release() -> dict[str, str] | None:
    """The Debian ``main`` suite that apt knows (base URI, codename, arch, InRelease path), or
    None when ``apt-get update`` has not run (or this is not Debian)."""
    fmt = "$(ORIGIN)|$(CODENAME)|$(COMPONENT)|$(BASE_URI)|$(ARCHITECTURE)|$(FILENAME)"
    try:
        done = subprocess.run(
            ["apt-get", "indextargets", "--format", fmt, "Identifier: Packages"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in sorted(done.stdout.splitlines()):
        origin, codename, component, base, arch, filename = (line.split("|") + [""] * 6)[:6]
        if origin != "Debian" or component != "main" or "-" in codename or not base:
            continue
        lists = Path(filename).parent
        stem = re.sub(r"^[a-z]+://", "", base).rstrip("/").replace("/", "_")
        for name in ("InRelease", "Release"):
            if (lists / f"{stem}_{name}").is_file():
                release = str(lists / f"{stem}_{name}")
                return {"base_uri": base, "codename": codename, "arch": arch, "release": release}
    return None


def release_sums(release_text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(header fields, {path: sha256}) of a Release / InRelease file."""
    header: dict[str, str] = {}
    sums: dict[str, str] = {}
    section = ""
    for line in release_text.splitlines():
        if line.startswith(" ") and section == "SHA256":
            parts = line.split()
            if len(parts) == 3:
                sums[parts[2]] = parts[0]
        elif ":" in line and not line.startswith(" "):
            section, _, value = line.partition(":")
            header.setdefault(section, value.strip())
    return header, sums


def fetch_debian_index(folder: Path) -> dict[str, str]:
    """Download ``Packages`` and ``Translation-en`` of the Debian ``main`` suite into ``folder``
    with apt's own downloader, each checked against the SHA256 of apt's InRelease file, and
    write ``release.json``. Raises RuntimeError with the reason when it cannot."""
    release = debian_release()
    if release is None:
        raise RuntimeError("no Debian main suite in apt's lists: run `apt-get update` first")
    header, sums = release_sums(Path(release["release"]).read_text(errors="replace"))
    folder.mkdir(parents=True, exist_ok=True)
    got: dict[str, str] = {}
    for kind, stem in (
        ("packages", f"main/binary-{release['arch']}/Packages"),
        ("translation", "main/i18n/Translation-en"),
    ):
        path = next((stem + s for s in (".xz", ".bz2", ".gz") if stem + s in sums), None)
        if path is None:
            raise RuntimeError(f"{release['release']} lists no compressed {stem}")
        target = folder / (Path(path).name + ".part")
        done = subprocess.run(
            [APT_HELPER, "download-file", release["base_uri"] + path, str(target)]
            + [f"SHA256:{sums[path]}"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0 or not target.is_file():
            raise RuntimeError(f"apt-helper could not fetch {path}: {done.stdout}{done.stderr}")
        final = folder / Path(path).name
        target.replace(final)
        got[kind] = final.name
        got[kind + "_sha256"] = sums[path]
    meta = {
        "origin": header.get("Origin", ""),
        "codename": header.get("Codename", release["codename"]),
        "version": header.get("Version", ""),
        "date": header.get("Date", ""),
        "base_uri": release["base_uri"],
        "arch": release["arch"],
        **got,
    }
    (folder / "release.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta
