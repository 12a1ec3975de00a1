"""What SECURITY.md promises, proven: no path escapes ARENA_HOME, no pickle, models only from
allowed folders or the local cache, and a server bound to this machine with XSRF on.
"""

from __future__ import annotations

import ast
import os
import re
import tomllib
from pathlib import Path

import pytest
from apptest_support import page_test
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.cli.main import main
from arena_core.data.uploads import safe_upload_name, save_upload
from arena_core.errors import InvalidSessionId, ModelLoadError
from arena_core.store import paths
from arena_core.training.models import ENV_MODEL_ROOTS, resolve_model
from ui.common import DATASET, DATASET_PATH

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("arena_core", "app_pages", "ui", "app.py")

# ---------------------------------------------------------------- session ids

HOSTILE_IDS = [
    "../x",
    "../../etc/passwd",
    "..",
    ".",
    "",
    "/etc",
    "/",
    "a/b",
    "a/../b",
    "a\\..\\b",
    "C:\\Windows",
    "a\x00b",
    "\x00",
    "\u2024\u2024",  # one-dot leaders
    "\uff0e\uff0e",  # full-width dots
    "\uff0e\uff0e\uff0fx",  # full-width '../x'
    "a\u2215b",  # division slash
    "~root",
    "$HOME",
    "x" * 129,
    "x" * 10_000,
    "-rf",
    ".hidden",
    "a b",
    "\nabc",
    "é",
    pytest.param(
        "abc\n",
        marks=(),
    ),
]


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
def test_hostile_session_ids_are_refused(store, session_id):
    with pytest.raises(InvalidSessionId, match="not a valid session id"):
        store.session_dir(session_id)
    with pytest.raises(InvalidSessionId):
        paths.job_dir(store.sessions_root / "s", session_id)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_accepted_id_is_one_folder_inside_the_sessions_folder(tmp_path_factory, text):
    from arena_core.store.session_store import SessionStore

    store = SessionStore(tmp_path_factory.getbasetemp() / "ids")
    try:
        folder = store.session_dir(text)
    except InvalidSessionId:
        return
    assert folder.parent == store.sessions_root and folder.name == text
    assert folder.resolve().parent == store.sessions_root.resolve()


@pytest.mark.parametrize(
    "folder_name",
    [
        "../../etc",
        "..",
        "-rf",
        "x" * 300,
        "séance 1",
        "a\x00b",
        pytest.param(
            "a...b",
            marks=(),
        ),
    ],
)
def test_imported_legacy_folder_names_become_valid_ids(folder_name):
    from arena_core.legacy.build import _session_id

    assert paths.validate_session_id(_session_id(folder_name))


COMMANDS_WITH_AN_ID = ["show", "plan", "status", "resume", "cancel", "relaunch", "repair", "run"]


@pytest.mark.parametrize("command", COMMANDS_WITH_AN_ID)
@pytest.mark.parametrize("session_id", ["../x", "../../etc", "/tmp", "x/../../y"])
def test_cli_refuses_ids_that_leave_the_store(home, capsys, command, session_id):
    # A decoy where '../x' would land if the id were joined unchecked.
    decoy = home / "x"
    decoy.mkdir(parents=True)
    (decoy / paths.MANIFEST).write_text('{"id": "SECRET"}', "utf-8")
    code = main(["--home", str(home), command, session_id])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "not a valid session id" in err
    assert "SECRET" not in out + err
    assert sorted(p.name for p in home.iterdir()) == ["x"], "nothing else written"


# ---------------------------------------------------------------- uploaded file names

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HOSTILE_NAMES = {
    "../../evil.csv": "evil.csv",
    "/etc/cron.d/job.csv": "job.csv",
    "C:\\Users\\me\\data.CSV": "data.csv",
    "a\x00.csv": "a_.csv",
    "\x00": "upload",
    "..": "upload",
    "....//....//x.csv": "x.csv",
    "\u2024\u2024\u2215etc.csv": "etc.csv",
    "\uff0e\uff0e\uff0fpasswd.csv": "passwd.csv",
    "\uff43\uff53\uff56.csv": "upload.csv",  # full-width 'csv' stem
    "\u202egpj.csv": "gpj.csv",  # right-to-left override
    "%2e%2e%2fx.csv": "2e_2e_2fx.csv",
    "data.csv ": "data.csv",
    "x" * 300 + ".csv": "x" * 100 + ".csv",  # long names keep their extension
    "x." + "c" * 300: "x." + "c" * 10,
    "": "upload",
}


@pytest.mark.parametrize(("name", "safe"), HOSTILE_NAMES.items(), ids=range(len(HOSTILE_NAMES)))
def test_upload_names_are_made_safe(tmp_path, name, safe):
    assert safe_upload_name(name) == safe
    target, shown = save_upload(tmp_path, name, b"data")
    assert shown == safe
    assert target.parent == (tmp_path / paths.UPLOADS_DIR).resolve()
    assert target.read_bytes() == b"data"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_upload_name_stays_in_the_uploads_folder(tmp_path_factory, name):
    safe = safe_upload_name(name)
    assert SAFE_NAME.match(safe) and len(safe) <= 111, safe
    home = tmp_path_factory.getbasetemp() / "uploads-home"
    target, _ = save_upload(home, name, b"x")
    assert target.parent == (home / paths.UPLOADS_DIR).resolve()
    assert len(target.name.encode()) < 255


@pytest.mark.parametrize("name", ["../../evil.csv", "/tmp/abs.csv", "\u2024\u2024\u2215x.csv"])
def test_hostile_upload_name_through_the_page_lands_in_uploads(tmp_path, home, name):
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload(name, b"text,annotation\n", "text/csv").run()
    assert not at.exception
    saved = Path(at.session_state[DATASET_PATH])
    assert saved.parent == (home / paths.UPLOADS_DIR).resolve()
    assert [p for p in home.rglob("*") if p.is_file()] == [saved]


def test_upload_of_a_type_not_offered_is_refused_before_it_is_saved(home):
    """A forged request with another extension: Streamlit refuses it; nothing is written."""
    at = page_test(DATASET)
    at.file_uploader(key="ds_upload").upload("run.sh", b"#!/bin/sh\n", "text/plain").run()
    assert at.exception, "Streamlit enforces the uploader's types on the server"
    assert DATASET_PATH not in at.session_state
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


# ---------------------------------------------------------------- no unsafe deserialisation

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def unsafe_calls(source: str, filename: str) -> list[str]:
    """'file:line: what' for each import or call that could run code from a file or a model."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            UNSAFE_MODULES
        ):
            found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name == "torch.load":
                if _keyword(node, "weights_only") is not True:
                    found.append(f"{where}: torch.load without weights_only=True")
            elif name in ("np.load", "numpy.load") and _keyword(node, "allow_pickle") is not False:
                found.append(f"{where}: {name} without allow_pickle=False")
            elif last in ("read_pickle", "to_pickle"):
                found.append(f"{where}: {name}")
            elif name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
                found.append(f"{where}: {name} (use yaml.safe_load)")
            elif name in ("eval", "exec", "os.system", "os.popen"):
                found.append(f"{where}: {name}()")
            elif _keyword(node, "shell") is True:
                found.append(f"{where}: {name}(shell=True)")
            if _keyword(node, "trust_remote_code") is True:
                found.append(f"{where}: trust_remote_code=True")
            if last == "from_pretrained" and _keyword(node, "local_files_only") is not True:
                found.append(f"{where}: {name} without local_files_only=True (may download)")
    return found


def _sources() -> list[Path]:
    files = []
    for entry in SCANNED:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_the_scanner_finds_what_it_looks_for():
    bad = """
import pickle
from joblib import load
import torch, numpy as np, yaml, subprocess
torch.load("m.pt")
torch.load("m.pt", weights_only=False)
np.load("x.npy")
np.load("x.npz", allow_pickle=True)
yaml.load(text)
eval("1")
subprocess.run("ls", shell=True)
AutoModel.from_pretrained("x", trust_remote_code=True)
"""
    found = unsafe_calls(bad, "bad.py")
    lines = sorted({int(item.split(":")[1]) for item in found})
    assert lines == [2, 3, 5, 6, 7, 8, 9, 10, 11, 12], found
    good = """
import torch, numpy as np
torch.load("m.pt", weights_only=True)
np.load("x.npz", allow_pickle=False)
AutoModel.from_pretrained("x", local_files_only=True)
"""
    assert unsafe_calls(good, "good.py") == []


def test_no_code_path_unpickles_or_runs_code_from_files():
    sources = _sources()
    assert len(sources) > 20, "the scan found the project's modules"
    found = []
    for path in sources:
        found += unsafe_calls(path.read_text("utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "\n".join(found)


# ---------------------------------------------------------------- model folders


@pytest.fixture
def model_folders(tmp_path):
    """Two saved-model-like folders: one under the allowed root, one outside it."""
    allowed = tmp_path / "models"
    inside, outside = allowed / "mine", tmp_path / "elsewhere" / "theirs"
    for folder in (inside, outside):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}", "utf-8")
    return allowed, inside, outside


def test_without_model_roots_any_local_folder_is_allowed(monkeypatch, model_folders):
    monkeypatch.delenv(ENV_MODEL_ROOTS, raising=False)
    _, inside, outside = model_folders
    assert resolve_model(str(inside)).path == inside.resolve()
    assert resolve_model(str(outside)).path == outside.resolve()


def test_model_roots_refuse_folders_outside_them(monkeypatch, tmp_path, model_folders):
    allowed, inside, outside = model_folders
    other = tmp_path / "other-root"
    other.mkdir()
    monkeypatch.setenv(ENV_MODEL_ROOTS, os.pathsep.join(["", str(other), str(allowed), " "]))
    assert resolve_model(str(inside)).kind == "local"
    link = allowed / "link-out"
    link.symlink_to(outside, target_is_directory=True)
    sneaky = [
        str(outside),
        str(allowed / ".." / "elsewhere" / "theirs"),
        str(link),  # a symlink inside the root that points outside it
        str(tmp_path / "no-such-folder"),  # refused for the root, not reported as missing
        "/etc",
    ]
    for name in sneaky:
        with pytest.raises(ModelLoadError) as info:
            resolve_model(name)
        message = str(info.value)
        assert "outside the allowed model folders" in message
        assert str(allowed) in message and str(other) in message
        assert ENV_MODEL_ROOTS in message
    # An explicit list still wins over the environment.
    assert resolve_model(str(outside), allowed_roots=[outside.parent]).kind == "local"


def test_model_roots_leave_builtin_models_and_the_cache_rule_alone(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_MODEL_ROOTS, str(tmp_path))
    assert resolve_model("tiny").kind == "tiny"
    assert resolve_model("minilm").kind == "packaged"
    with pytest.raises(ModelLoadError, match="not available offline"):
        resolve_model("some-org/surely-not-cached-model-xyz")
    with pytest.raises(ModelLoadError):
        resolve_model("/tmp/a\x00b")


def test_strategy_page_refuses_a_model_outside_the_roots(monkeypatch, home, model_folders):
    from apptest_support import demo_state, texts_of

    from ui.common import STRATEGY

    allowed, inside, outside = model_folders
    monkeypatch.setenv(ENV_MODEL_ROOTS, str(allowed))
    at = page_test(STRATEGY, demo_state())
    at.radio(key="st_model").set_value("custom").run()
    at.text_input(key="st_model_custom").set_value(str(outside)).run()
    assert not at.exception
    errors = texts_of(at, "error")
    assert len(errors) == 1 and "outside the allowed model folders" in errors[0]
    assert str(allowed) in errors[0]
    assert at.button(key="st_launch").disabled
    at.text_input(key="st_model_custom").set_value(str(inside)).run()
    assert texts_of(at, "error") == [] and not at.button(key="st_launch").disabled


def test_worker_refuses_a_model_outside_the_roots(monkeypatch, store, tmp_path, model_folders):
    from factories import new_session

    from arena_core.run.worker import run_session
    from arena_core.session.manifest import SessionStatus

    allowed, _, outside = model_folders
    session_id = new_session(store, "roots", rows=24, model=str(outside))
    monkeypatch.setenv(ENV_MODEL_ROOTS, str(allowed))
    assert run_session(store, session_id) is SessionStatus.FAILED
    manifest = store.load(session_id)
    assert manifest.status is SessionStatus.FAILED
    assert "outside the allowed model folders" in manifest.status_reason
    assert not (store.session_dir(session_id) / paths.JOBS_DIR).exists(), "nothing trained"


# ---------------------------------------------------------------- server settings


def test_server_binds_to_localhost_with_xsrf_and_an_upload_limit():
    from streamlit import config as st_config

    raw = (ROOT / ".streamlit" / "config.toml").read_text("utf-8")
    settings_ = tomllib.loads(raw)
    server = settings_["server"]
    assert server["address"] == "localhost"
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True
    assert isinstance(server["maxUploadSize"], int) and 1 <= server["maxUploadSize"] <= 1024
    assert settings_["client"]["showErrorDetails"] == "none", "no tracebacks in the browser"
    assert settings_["browser"]["gatherUsageStats"] is False
    known = st_config.get_config_options()
    for section, values in settings_.items():
        for name in values:
            assert f"{section}.{name}" in known, f"{section}.{name} is not a Streamlit option"
