"""The bad-input corpus through the Dataset page: one st.error or a correct result, never an
exception, and never a session (or anything but the upload itself) written under ARENA_HOME.

Each case runs twice, as a user meets it:
- ``state``: the file already chosen with the case's column options (as when coming back to a
  dataset); the page may not be able to show a choice that names a missing column (a select box
  only offers existing columns), so it then shows the result of the choice it does show.
- ``upload``: the file's bytes uploaded through the file uploader (columns guessed).

Either way the page must show exactly what the core says for the options on screen: the same
error message, or the same rows, keys and warnings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from apptest_support import dataset_state, page_test, texts_of
from test_bad_inputs import BAD_INPUTS, BadInput

from arena_core.data.dataset import load_dataset
from arena_core.data.filtering import apply_min_examples
from arena_core.data.readers import read_table
from arena_core.errors import ArenaError
from arena_core.session.manifest import DatasetOptions
from ui.common import DATASET, DATASET_OPTIONS, DATASET_PATH, DATASET_SOURCE
from ui.dataset_state import UPLOAD_TYPES

HEAVY = {"rows_200k"}  # about 4 s per page run: slow lane only
# Uploads in the fast lane: one or two per family (unreadable, encodings, JSON, Excel, Parquet,
# columns, annotations, guessed layouts); the slow lane uploads the whole corpus.
UPLOAD_FAST = {
    "empty_file",
    "binary_garbage",
    "pdf_named_csv",
    "latin1_bytes",
    "utf16_with_bom",
    "json_broken",
    "jsonl_some_broken",
    "xlsx_damaged_zip",
    "xlsx_two_sheets",
    "parquet_truncated",
    "nested_parquet_types",
    "duplicate_columns_csv",
    "annotation_some_invalid",
    "numeric_labels_columns",
    "semicolon_csv",
    "ragged_rows",
    "emoji_and_rtl",
    "upload_temp_name",
}


def _param(case: BadInput, slow: bool):
    return pytest.param(case, id=case.name, marks=[pytest.mark.slow] if slow else [])


STATE_CASES = [_param(case, case.name in HEAVY) for case in BAD_INPUTS]
# No file to upload, or a type the uploader does not offer (see test_security): left out of the
# upload cases, and test_cases_left_out_of_uploads_cannot_be_uploaded proves they still cannot be.
NOT_UPLOADABLE = {"missing_file", "folder", "unsupported_extension", "no_extension"}
UPLOAD_CASES = [
    _param(case, case.name not in UPLOAD_FAST)
    for case in BAD_INPUTS
    if case.name not in NOT_UPLOADABLE
]


def core_verdict(path: Path, source: str, options: DatasetOptions):
    """What the core says for this file and these options: ('error', message) or ('ok', dataset)."""
    try:
        read_table(path, source_name=source)
        dataset = load_dataset(path, options, source_name=source)
        apply_min_examples(dataset, 2, per_language=False)
    except ArenaError as exc:
        return "error", str(exc)
    return "ok", dataset


def page_options(at) -> DatasetOptions | None:
    """The column options on screen; None when the page stopped before showing any (unreadable)."""
    if DATASET_OPTIONS not in at.session_state:
        return None
    return DatasetOptions.model_validate(at.session_state[DATASET_OPTIONS])


def assert_page_agrees_with_core(at, path: Path, source: str) -> tuple[str, object]:
    """The page shows one error equal to the core's, or the core's rows, keys and warnings."""
    assert not at.exception, at.exception[0].value if at.exception else ""
    options = page_options(at)
    verdict, detail = core_verdict(path, source, options or DatasetOptions())
    if options is None:  # no columns to choose: the file itself cannot be read
        assert verdict == "error"
        with pytest.raises(ArenaError, match=re.escape(detail)):
            read_table(path, source_name=source)
    errors = texts_of(at, "error")
    if verdict == "error":
        assert errors == [detail], f"page errors {errors} != core error {detail!r}"
        assert not at.get("plotly_chart"), "no result is shown beside the error"
        return verdict, detail
    assert errors == [], f"the core loads this file with {options}, the page shows {errors}"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows with text"] == str(detail.n_rows)
    assert metrics["Annotation keys"] == str(len(detail.keys))
    shown_keys = [s[len("Key: ") :] for s in texts_of(at, "subheader") if s.startswith("Key: ")]
    assert shown_keys == list(detail.keys)
    assert len(at.get("plotly_chart")) == len(detail.keys)
    assert texts_of(at, "warning") == list(detail.warnings)
    return verdict, detail


def written_under(home: Path) -> list[str]:
    if not home.exists():
        return []
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", STATE_CASES)
def test_chosen_file_shows_one_error_or_a_correct_result(tmp_path, home, case: BadInput):
    path = case.write(tmp_path)
    source = case.source_name or path.name
    at = page_test(DATASET, dataset_state(path, case.options, case.source_name))
    verdict, detail = assert_page_agrees_with_core(at, path, source)
    if page_options(at) == case.options:  # the case's own choice is on screen
        if case.expect_error:
            assert verdict == "error" and case.expect_error in detail
        else:
            assert verdict == "ok", detail
            case.check(detail)
    else:
        # Only a column choice the widgets cannot show may be replaced, never a readable file.
        assert case.expect_error and "column" in case.expect_error, page_options(at)
    assert written_under(home) == [], "the Dataset page wrote under ARENA_HOME"


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_uploaded_file_shows_one_error_or_a_correct_result(tmp_path, home, case: BadInput):
    path = case.write(tmp_path)
    name = case.source_name or path.name
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload(name, path.read_bytes(), "application/octet-stream")
    at.run()
    saved = Path(at.session_state[DATASET_PATH])
    assert saved.read_bytes() == path.read_bytes()
    verdict, detail = assert_page_agrees_with_core(at, saved, at.session_state[DATASET_SOURCE])
    if verdict == "error" and case.expect_error and "column" not in case.expect_error:
        assert case.expect_error in detail, "a file that cannot be read fails the same way"
    if verdict == "ok" and case.check and page_options(at) == case.options:
        case.check(detail)
    assert written_under(home) == [f"uploads/{saved.name}"], "only the upload is written"


def test_cases_left_out_of_uploads_cannot_be_uploaded(tmp_path):
    for case in BAD_INPUTS:
        if case.name not in NOT_UPLOADABLE:
            continue
        folder = tmp_path / case.name
        folder.mkdir()
        path = case.write(folder)
        suffix = Path(case.source_name or path.name).suffix.lstrip(".").lower()
        assert not path.is_file() or suffix not in UPLOAD_TYPES, (
            f"{case.name} can be uploaded now: remove it from NOT_UPLOADABLE"
        )
