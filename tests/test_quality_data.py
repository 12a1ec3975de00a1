"""The quality benchmark's real text collections (bench/quality_data.py).

The readers, the cleaning and the stratified sampling are tested on small files made here and
always run. The tests on the real collections need their Debian packages (and, for
``debian_packages``, the fetched archive index): without them they are skipped, loudly, with
the command to run, unless ARENA_REQUIRE_QUALITY_DATA=1, where a missing collection fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tool_support import missing_quality_data

from bench import quality_data as qd
from bench import quality_sources as src


def _need(name: str) -> str:
    missing_quality_data(name)  # skips loudly, or fails where the data is required (CI)
    return name


@pytest.fixture(params=list(qd.COLLECTIONS))
def collection(request) -> str:
    return _need(request.param)


def _within_one_row(sample: pd.DataFrame, full: pd.DataFrame) -> None:
    shares = full["label"].value_counts(normalize=True)
    counts = sample["label"].value_counts().reindex(shares.index, fill_value=0)
    expected = shares * len(sample)
    assert ((counts - expected).abs() < 1).all(), pd.DataFrame({"got": counts, "exp": expected})


# --------------------------------------------------------------------------- real collections


def test_full_collection_is_clean(collection):
    info = qd.COLLECTIONS[collection]
    full = qd.collection_frame(collection)
    assert len(full) >= max(qd.SIZES)
    assert (full["text"].str.len() > 0).all()
    assert (full["text"] == full["text"].str.strip()).all()
    assert full["text"].str.len().max() <= src.MAX_CHARS
    assert not full["text"].duplicated().any()
    folded = full["text"].map(lambda t: " ".join(t.split()).casefold())
    assert not folded.duplicated().any()
    counts = full["label"].value_counts()
    assert 3 <= len(counts) <= 12
    assert set(counts.index) <= set(info.labels)
    assert counts.min() >= qd.MIN_LABEL_ROWS
    assert counts.max() / counts.min() >= 1.5, "labels should be really imbalanced"


@pytest.mark.parametrize("size", qd.SIZES)
def test_sample_size_proportions_and_uniqueness(collection, size):
    full = qd.collection_frame(collection)
    sample = qd.load_collection(collection, size, seed=0)
    assert len(sample) == size
    assert sample["label"].map(type).eq(str).all()
    assert not sample["text"].duplicated().any()
    assert (sample["text"].str.strip().str.len() > 0).all()
    assert set(sample["text"]) <= set(full["text"])
    _within_one_row(sample, full)


def test_sample_is_deterministic_and_seeded(collection):
    first = qd.load_collection(collection, 1000, seed=3)
    again = qd.load_collection(collection, 1000, seed=3)
    pd.testing.assert_frame_equal(first, again)
    other = qd.load_collection(collection, 1000, seed=4)
    assert set(first["text"]) != set(other["text"])
    assert first["label"].value_counts().equals(other["label"].value_counts())


def test_more_rows_than_exist_is_a_value_error(collection):
    rows = len(qd.collection_frame(collection))
    with pytest.raises(ValueError, match=f"only {rows} usable rows"):
        qd.load_collection(collection, rows + 1)


def test_language_column_only_for_the_multilingual_set(collection):
    info = qd.COLLECTIONS[collection]
    sample = qd.load_collection(collection, 1000)
    if info.multilingual:
        assert list(sample.columns) == ["text", "label", "language"]
        full = qd.collection_frame(collection)
        assert set(full["language"]) == set(info.languages)
        assert set(sample["language"]) == set(info.languages)
    else:
        assert list(sample.columns) == ["text", "label"]


def test_cli_describe_prints_rows_labels_and_lengths(collection, capsys):
    assert qd.main(["--describe", collection]) == 0
    out = capsys.readouterr().out
    assert f"rows: {len(qd.collection_frame(collection))}" in out
    assert "median" in out
    for label in qd.collection_frame(collection)["label"].unique():
        assert label in out


def test_at_least_three_collections_are_declared():
    assert len(qd.COLLECTIONS) >= 3
    assert qd.SIZES == (300, 1000, 5000)
    assert any(info.multilingual for info in qd.COLLECTIONS.values())


# --------------------------------------------------------------------------- installing


def test_missing_collection_raises_with_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv(qd.ENV_DIR, str(tmp_path / "empty"))
    assert "debian_packages" in qd.missing()
    with pytest.raises(qd.CollectionMissing, match="--install debian_packages"):
        qd.ensure_installed("debian_packages")


def test_install_hints_name_apt_packages():
    assert qd.install_hint("fortunes_en") == (
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
        "--no-install-recommends fortunes"
    )
    hint = qd.install_hint("fortunes_intl")
    for package in qd.COLLECTIONS["fortunes_intl"].debian_packages:
        assert package in hint.split()
    assert "wordnet-base" in qd.install_hint("wordnet_nouns")
    with pytest.raises(ValueError, match="unknown collection"):
        qd.install_hint("nope")
    with pytest.raises(ValueError, match="unknown collection"):
        qd.load_collection("nope", 300)


# --------------------------------------------------------------------------- readers, on made files


def test_clean_text_strips_overstrikes_controls_and_caps():
    assert src.clean_text("  _\bb_\bo_\bl_\bd \x07text  \r\n\tend \n\n") == "bold text\n\tend"
    long = ("word " * 1000).strip()
    capped = src.clean_text(long)
    assert len(capped) <= src.MAX_CHARS and capped.endswith("word")


def test_fortune_files_give_labelled_rows(tmp_path):
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "witze").write_text("Eins\n%\n\n%\nZwei\n  -- Autor\n%\n", "utf-8")
    (tmp_path / "quotes").write_text("one\n%\ntwo\n%\nthree\n", "utf-8")
    rows = src.fortune_rows(tmp_path, {"jokes": ("de/witze",), "quotes": ("quotes",)})
    assert rows == [
        {"text": "Eins", "label": "jokes", "language": "de"},
        {"text": "Zwei\n  -- Autor", "label": "jokes", "language": "de"},
        {"text": "one", "label": "quotes", "language": "en"},
        {"text": "two", "label": "quotes", "language": "en"},
        {"text": "three", "label": "quotes", "language": "en"},
    ]
    capped = src.fortune_rows(tmp_path, {"quotes": ("quotes",)}, per_file_cap=2)
    assert len(capped) == 2
    assert capped == src.fortune_rows(tmp_path, {"quotes": ("quotes",)}, per_file_cap=2)


def test_wordnet_lines_give_gloss_and_lexname(tmp_path):
    data = tmp_path / "data.noun"
    data.write_text(
        "  1 This software and database is being provided to you\n"
        "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which exists  \n"
        '01317541 05 n 01 pet 0 001 @ 00015388 n 0000 | a domesticated animal; "a pet dog"  \n'
        "02084071 06 n 01 tool 0 000 | an implement  \n",
        "utf-8",
    )
    rows = src.wordnet_rows(data, ("noun.animal", "noun.artifact"))
    assert rows == [
        {"text": 'a domesticated animal; "a pet dog"', "label": "noun.animal"},
        {"text": "an implement", "label": "noun.artifact"},
    ]


def test_debian_index_joins_sections_to_long_descriptions():
    packages = (
        "Package: a\nSection: games\nDescription: A game\nDescription-md5: 11\n"
        "Tag: game::arcade,\n use::gameplaying\n\n"
        "Package: b\nSection: libs\nDescription-md5: 22\n\n"
        "Package: c\nSection: games\nDescription-md5: 99\n"
    )
    translation = (
        "Package: a\nDescription-md5: 11\nDescription-en: A game\n First line.\n .\n"
        "  * a list item\n\n"
        "Package: b\nDescription-md5: 22\nDescription-en: A library\n Body.\n"
    )
    rows = src.debian_rows(packages, translation, ("games",))
    assert rows == [{"text": "A game\nFirst line.\n\n * a list item", "label": "games"}]


def test_release_sums_reads_the_sha256_block():
    release = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nVersion: 12.15\n"
        "Codename: bookworm\nMD5Sum:\n aa 10 main/i18n/Translation-en.xz\nSHA256:\n"
        " bb 10 main/i18n/Translation-en.xz\n cc 20 main/binary-amd64/Packages.xz\n"
        "-----BEGIN PGP SIGNATURE-----\n\nxyz\n"
    )
    header, sums = src.release_sums(release)
    assert header["Version"] == "12.15" and header["Codename"] == "bookworm"
    assert sums == {"main/i18n/Translation-en.xz": "bb", "main/binary-amd64/Packages.xz": "cc"}


# --------------------------------------------------------------------------- cleaning, sampling


def _rows(counts: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"text": f"{label} text {i}", "label": label}
        for label, n in counts.items()
        for i in range(n)
    ]


def test_finish_dedupes_drops_conflicts_and_small_labels(monkeypatch):
    monkeypatch.setattr(qd, "MIN_LABEL_ROWS", 3)
    rows = _rows({"a": 5, "b": 4, "tiny": 2})
    rows += [
        {"text": "a  TEXT 0", "label": "a"},  # same text folded: a duplicate
        {"text": "shared", "label": "a"},
        {"text": "shared", "label": "b"},  # under two labels: dropped
        {"text": "", "label": "a"},
    ]
    frame = qd.finish(rows)
    assert list(frame.columns) == ["text", "label"]
    assert frame["label"].value_counts().to_dict() == {"a": 5, "b": 4}
    assert "shared" not in set(frame["text"]) and "" not in set(frame["text"])
    assert frame.equals(qd.finish(list(reversed(rows))))


def test_stratified_sample_keeps_proportions_and_is_seeded():
    frame = qd.finish(_rows({"big": 700, "mid": 250, "small": 120}))
    for size in (7, 100, 333, len(frame)):
        sample = qd.stratified_sample(frame, size, seed=1)
        assert len(sample) == size and not sample["text"].duplicated().any()
        _within_one_row(sample, frame)
    one = qd.stratified_sample(frame, 100, seed=1)
    pd.testing.assert_frame_equal(one, qd.stratified_sample(frame, 100, seed=1))
    assert not one.equals(qd.stratified_sample(frame, 100, seed=2))
    assert np.unique(one["label"][:20]).size > 1, "rows should be shuffled, not grouped"
    with pytest.raises(ValueError, match="only 1070 usable rows"):
        qd.stratified_sample(frame, 1071)
    with pytest.raises(ValueError, match="positive"):
        qd.stratified_sample(frame, 0)
