"""The bad-input corpus through the CLI front end: one 'error:' line (exit 2) or a correct
result, never a traceback, and never a session (or anything else) written under ARENA_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_inputs import BAD_INPUTS, BadInput

from arena_core.cli.main import main


def _flags(case: BadInput) -> list[str]:
    options = case.options
    flags = ["--text-col", options.text_col]
    if options.layout == "annotation-json" and options.annotation_col:
        flags += ["--annotation-col", options.annotation_col]
    elif options.label_cols:
        flags += ["--label-cols", ",".join(options.label_cols)]
    if options.lang_col:
        flags += ["--lang-col", options.lang_col]
    if options.id_col:
        flags += ["--id-col", options.id_col]
    return flags


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.name for c in BAD_INPUTS])
def test_bad_input_through_cli(tmp_path: Path, home: Path, capsys, case: BadInput) -> None:
    path = case.write(tmp_path)
    if case.source_name:  # an upload kept under a temp name: the CLI sees the real name
        named = path.with_name(case.source_name)
        path.rename(named)
        path = named
    code = main(["--home", str(home), "inspect", str(path), *_flags(case), "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    cli_guesses = not (case.options.annotation_col or case.options.label_cols)
    if case.expect_error and not (cli_guesses and code == 0):
        # (where the case leaves a column unchosen, the CLI may guess it and succeed)
        assert code == 2
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
        assert case.expect_error.lower() in err.lower()
    else:
        assert code == 0, err
        assert json.loads(out)["n_rows"] > 0
        # a dry run of a session from the same file plans or refuses cleanly, writing nothing
        code = main(["--home", str(home), "new", str(path), *_flags(case), "--dry-run", "--json"])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "unexpected" not in err
        assert code == 0 or (code == 2 and err.startswith("error: "))
    assert not home.exists(), "the CLI wrote under ARENA_HOME for an inspect/dry-run"
