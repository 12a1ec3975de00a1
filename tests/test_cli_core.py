"""The CLI's JSON contracts and exit codes (run as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from factories import THREE_THEMES, make_rows, write_dataset

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def cli(*args, home):
    result = subprocess.run(
        [sys.executable, "-m", "arena_core", "--home", str(home), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    return result


@pytest.fixture
def data_file(tmp_path):
    return write_dataset(tmp_path, "csv", make_rows(60, THREE_THEMES), "annotated")


HYBRID = ["--strategy", "sentiment=multi-class", "--strategy", "themes=one-vs-all"]


def test_inspect_json(data_file, home):
    result = cli("inspect", data_file, "--json", home=home)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["keys"]) == {"sentiment", "themes"}
    assert summary["keys"]["themes"]["multi_valued"] is True
    assert summary["options"]["annotation_col"] == "annotation"
    assert not home.exists()


def test_dry_run_writes_nothing(data_file, home):
    result = cli("new", data_file, *HYBRID, "--model", "tiny", "--dry-run", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"id": None, "jobs": 4, "status": "dry-run"}
    assert not home.exists()


def test_new_list_show_plan_check(data_file, home):
    created = cli("new", data_file, *HYBRID, "--model", "tiny", "--no-start", "--json", home=home)
    assert created.returncode == 0, created.stderr
    payload = json.loads(created.stdout)
    assert payload["jobs"] == 4 and payload["status"] == "ready"
    session = payload["id"]

    listed = json.loads(cli("list", "--json", home=home).stdout)
    assert [row["id"] for row in listed] == [session]
    assert set(listed[0]) == {
        "id",
        "name",
        "status",
        "created_at",
        "n_jobs",
        "complete",
        "parent",
        "origin",
    }
    assert listed[0]["n_jobs"] == 4 and listed[0]["complete"] is True

    planned = json.loads(cli("plan", session, "--json", home=home).stdout)
    assert planned["session"] == session
    assert [(j["key"], j["strategy"], j["label"], j["language"]) for j in planned["jobs"]] == [
        ("sentiment", "multi-class", None, None),
        ("themes", "one-vs-all", "economy", None),
        ("themes", "one-vs-all", "environment", None),
        ("themes", "one-vs-all", "health", None),
    ]
    assert set(planned["jobs"][0]) == {"id", "key", "strategy", "label", "language", "labels"}

    checked = cli("check", session, "--json", home=home)
    assert checked.returncode == 0
    assert json.loads(checked.stdout) == {"session": session, "complete": True, "problems": []}

    shown = cli("show", session, home=home)
    assert json.loads(shown.stdout)["id"] == session


def test_check_exit_1_names_missing_fields(data_file, home):
    session = json.loads(
        cli("new", data_file, "--model", "tiny", "--no-start", "--json", home=home).stdout
    )["id"]
    path = home / "sessions" / session / "manifest.json"
    raw = json.loads(path.read_text())
    for name in ("multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"):
        del raw[name]
    path.write_text(json.dumps(raw))
    result = cli("check", session, "--json", home=home)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["complete"] is False
    named = {p["field"] for p in report["problems"]}
    assert {"multiclass_keys", "onevsall_keys", "key_strategies", "files_per_key"} <= named
    # the same file checked by path
    by_path = cli("check", path, "--json", home=home)
    assert by_path.returncode == 1 and json.loads(by_path.stdout)["session"] == str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["new", "missing.csv", "--dry-run"], "missing.csv"),
        (["plan", "../../etc"], "not a valid session id"),
        (["show", "nope"], "No session 'nope'"),
        (["new", "DATA", "--strategy", "themes=multi-class", "--dry-run"], "cannot be multi-class"),
        (["new", "DATA", "--strategy", "sentiment", "--dry-run"], "KEY=multi-class"),
        (["new", "DATA", "--epochs", "0", "--dry-run"], "epochs"),
        (["new", "DATA", "--text-col", "nope", "--dry-run"], "nope"),
    ],
)
def test_input_errors_are_one_line_exit_2(args, message, data_file, home):
    args = [str(data_file) if a == "DATA" else a for a in args]
    result = cli(*args, home=home)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert not (home / "sessions").exists() or not any((home / "sessions").iterdir())
