"""Hub models: the suggested catalog, the offline refusal, and the explicit download.

Nothing here reaches the internet: the Hugging Face cache is a temporary folder, "offline" is
an endpoint nobody listens on, and the one real download comes from a small hub served on
localhost by this file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from apptest_support import demo_state, page_test, texts_of
from huggingface_hub import constants

from arena_core.cli.main import main
from arena_core.errors import ModelLoadError
from arena_core.session.strategy import ModelJob, Strategy
from arena_core.training import catalog, hub
from arena_core.training.models import (
    TINY_CONFIG,
    load_classifier,
    load_tokenizer,
    packaged_model_path,
    resolve_model,
)
from ui.common import STRATEGY
from ui.model_catalog import PICK

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connections are refused at once
CACHED_ID = "bert-base-uncased"  # a catalog id; MiniLM's vocabulary is BERT's uncased one
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
JOB = ModelJob(id="k", key="k", strategy=Strategy.MULTI_CLASS, labels=["a", "b", "c"])


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache for this test (environment and the imported constant)."""
    folder = tmp_path / "hf_home" / "hub"
    folder.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(folder.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


def tiny_model_folder(folder: Path) -> Path:
    """A tiny BERT classifier as save_pretrained writes it, with MiniLM's tokenizer files."""
    from transformers import BertConfig, BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(packaged_model_path() / name, folder / name)
    config = BertConfig(vocab_size=30522, **TINY_CONFIG)
    BertForSequenceClassification(config).save_pretrained(folder)  # config + model.safetensors
    return folder


def cache_model(cache: Path, hub_id: str) -> Path:
    """Put a tiny model in ``cache`` under the layout huggingface_hub writes."""
    repo = cache / f"models--{hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return tiny_model_folder(repo / "snapshots" / COMMIT)


# ---------------------------------------------------------------- the catalog


def test_catalog_has_every_group_and_unique_valid_ids():
    from huggingface_hub.utils import validate_repo_id

    ids = [e.id for e in catalog.CATALOG]
    assert len(ids) == len(set(ids)) and 40 <= len(ids) <= 60
    assert {e.group for e in catalog.CATALOG} == set(catalog.GROUPS) and len(catalog.GROUPS) == 8
    assert ids[0] == catalog.PACKAGED_ID
    for entry in catalog.CATALOG:
        validate_repo_id(entry.id)
        assert entry.languages and entry.note and entry.max_tokens >= 512
        assert entry.size.endswith("M") and int(entry.size[:-1]) > 0


def test_rows_follow_the_dataset_languages(hf_cache):
    everything = catalog.catalog_rows(None)
    assert len(everything) == len(catalog.CATALOG)
    french = {r["id"]: r for r in catalog.catalog_rows(["FR"])}
    assert "camembert-base" in french and "xlm-roberta-base" in french and "minilm" in french
    assert "deepset/gbert-base" not in french and "roberta-base" not in french
    assert set(french) == {r["id"] for r in catalog.catalog_rows(["French"])}
    assert "neuralmind/bert-base-portuguese-cased" in {
        r["id"] for r in catalog.catalog_rows(["pt-BR"])
    }
    assert french["minilm"]["status"] == catalog.AVAILABLE and french["minilm"]["available_offline"]
    assert french["camembert-base"]["status"] == catalog.DOWNLOAD  # the cache is empty
    assert set(french["camembert-base"]) >= {"id", "languages", "size", "max_tokens", "note"}


# ---------------------------------------------------------------- offline: cache only


def test_an_uncached_hub_id_is_refused_with_what_to_do(hf_cache):
    with pytest.raises(ModelLoadError) as error:
        resolve_model("some-org/not-cached")
    message = str(error.value)
    assert (
        "'some-org/not-cached'" in message and "not in this machine's Hugging Face cache" in message
    )
    assert "arena download-model some-org/not-cached" in message and "folder" in message
    assert not hub.is_cached("some-org/not-cached") and not hub.is_cached("not a valid id!")


def test_a_cached_model_is_available_resolves_and_loads(hf_cache):
    cache_model(hf_cache, CACHED_ID)
    assert hub.is_cached(CACHED_ID)
    row = next(r for r in catalog.catalog_rows(["en"]) if r["id"] == CACHED_ID)
    assert row["available_offline"] and row["status"] == "available offline"
    source = resolve_model(CACHED_ID)
    assert source.kind == "hub" and source.hub_id == CACHED_ID
    tokenizer = load_tokenizer(source)
    model = load_classifier(source, JOB, seed=1)
    assert model.config.num_labels == 3 and model.config.hidden_size == TINY_CONFIG["hidden_size"]
    logits = model(**tokenizer(["hello world"], return_tensors="pt")).logits
    assert tuple(logits.shape) == (1, 3)


def test_config_without_weights_is_not_available(hf_cache):
    folder = cache_model(hf_cache, "org/half")
    (folder / "model.safetensors").unlink()
    assert not hub.is_cached("org/half")


# ---------------------------------------------------------------- the explicit download


def test_download_unreachable_is_one_clear_line_and_stays_offline(hf_cache, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE)
    offline_before = constants.HF_HUB_OFFLINE
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as error:
        hub.download("some-org/some-model")
    assert time.perf_counter() - start < 10
    message = str(error.value)
    assert "\n" not in message and "'some-org/some-model' could not be downloaded" in message
    assert "connect this machine to the internet" in message and "folder" in message
    assert constants.HF_HUB_OFFLINE is offline_before  # lifted only inside the call
    with pytest.raises(ModelLoadError, match="packaged"):
        hub.download("minilm")
    with pytest.raises(ModelLoadError, match="not a Hugging Face model id"):
        hub.download("../etc")


def test_wanted_files_keep_what_a_classifier_needs():
    names = [
        "config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "README.md",
        "sentencepiece.bpe.model", "tokenizer.json", "onnx/model.onnx", "1_Pooling/config.json",
    ]  # fmt: skip
    assert hub.wanted_files(names) == [
        "config.json",
        "model.safetensors",
        "sentencepiece.bpe.model",
        "tokenizer.json",
    ]
    with pytest.raises(ModelLoadError, match=r"only as PyTorch \.bin"):
        hub.check_files("org/old", ["config.json", "pytorch_model.bin", "vocab.txt"])


def serve_hub(repos: dict[str, Path]) -> ThreadingHTTPServer:
    """A hub on localhost answering what snapshot_download asks, for flat repo folders."""
    files = {
        repo: {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        for repo, folder in repos.items()
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def reply(self, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(200)
            for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            for repo, content in files.items():
                if path in (f"/api/models/{repo}", f"/api/models/{repo}/revision/main"):
                    rows = [{"rfilename": n, "size": len(b)} for n, b in content.items()]
                    return self.reply(
                        json.dumps({"id": repo, "sha": COMMIT, "siblings": rows}).encode()
                    )
                if path.startswith(f"/api/models/{repo}/tree/"):
                    rows = [
                        {
                            "type": "file",
                            "path": n,
                            "size": len(b),
                            "oid": hashlib.sha1(b).hexdigest(),
                        }
                        for n, b in content.items()
                    ]
                    return self.reply(json.dumps(rows).encode())
                name = path.removeprefix(f"/{repo}/resolve/{COMMIT}/")
                if name in content:
                    etag = f'"{hashlib.sha1(content[name]).hexdigest()}"'
                    return self.reply(content[name], {"X-Repo-Commit": COMMIT, "ETag": etag})
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()

        do_HEAD = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_fills_the_cache_with_progress(hf_cache, tmp_path, monkeypatch):
    model = tiny_model_folder(tmp_path / "served")
    (model / "README.md").write_text("# tiny")
    (model / "pytorch_model.bin").write_bytes(b"pickle")  # never fetched
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(model / "config.json", old / "config.json")
    (old / "pytorch_model.bin").write_bytes(b"pickle")
    server = serve_hub({"org/tiny": model, "org/old": old})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    offline_before = constants.HF_HUB_OFFLINE
    seen: list[tuple[float, str]] = []
    try:
        folder = hub.download("org/tiny", lambda fraction, text: seen.append((fraction, text)))
        with pytest.raises(ModelLoadError, match=r"'org/old' publishes .* only as PyTorch \.bin"):
            hub.download("org/old")
    finally:
        server.shutdown()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "model.safetensors", *TOKENIZER_FILES]
    )
    assert folder.is_relative_to(hf_cache) and hub.is_cached("org/tiny")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(text.startswith("org/tiny: ") for _, text in seen)
    assert constants.HF_HUB_OFFLINE is offline_before
    assert resolve_model("org/tiny").kind == "hub"


# ---------------------------------------------------------------- CLI


def test_cli_models_json_and_download_offline(hf_cache, home, monkeypatch, capsys):
    cache_model(hf_cache, CACHED_ID)
    assert main(["models", "--language", "fr,en", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[CACHED_ID]["status"] == "available offline" and "camembert-base" in rows
    assert rows["camembert-base"]["status"] == "download" and "deepset/gbert-base" not in rows
    assert main(["models"]) == 0
    assert "download-model ID" in capsys.readouterr().out

    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE)
    assert main(["download-model", "xlm-roberta-base"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Model 'xlm-roberta-base' could not")
    assert main(["download-model", CACHED_ID]) == 0  # already there: no network needed
    assert "already available offline" in capsys.readouterr().out


def test_cli_download_model_prints_progress(hf_cache, home, tmp_path, monkeypatch, capsys):
    server = serve_hub({"org/tiny": tiny_model_folder(tmp_path / "served")})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        assert main(["download-model", "org/tiny"]) == 0
    finally:
        server.shutdown()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("0%  org/tiny: 6 files, ") and lines[-2].startswith("100%  org/tiny")
    assert lines[-1].startswith("Downloaded org/tiny to ") and hub.is_cached("org/tiny")


# ---------------------------------------------------------------- the Strategy page


def test_strategy_page_custom_shows_the_catalog(hf_cache, home, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE)
    cache_model(hf_cache, CACHED_ID)
    at = page_test(STRATEGY, demo_state())
    at.radio(key="st_model").set_value("custom").run()
    assert not at.exception
    assert "Suggested models" in [e.label for e in at.expander]
    table = at.dataframe[0].value
    assert {"camembert-base", CACHED_ID} <= set(table["model"])  # demo: English and French
    assert set(table["availability"]) == {"available offline", "download"}

    at.selectbox(key=PICK).set_value(CACHED_ID).run()  # cached: trains offline
    assert not at.exception and not at.error
    assert "st_catalog_download" not in {b.key for b in at.button}
    assert "This session will train 5 models" in texts_of(at, "subheader")

    at.selectbox(key=PICK).set_value("xlm-roberta-base").run()
    assert "arena download-model xlm-roberta-base" in " ".join(texts_of(at, "error"))
    at.button(key="st_catalog_download").click().run()
    assert not at.exception
    assert any("'xlm-roberta-base' could not be downloaded" in t for t in texts_of(at, "error"))


def test_strategy_page_download_button_fills_the_cache(hf_cache, home, tmp_path, monkeypatch):
    server = serve_hub({"xlm-roberta-base": tiny_model_folder(tmp_path / "served")})
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        at = page_test(STRATEGY, demo_state())
        at.radio(key="st_model").set_value("custom").run()
        at.selectbox(key=PICK).set_value("xlm-roberta-base").run()
        at.button(key="st_catalog_download").click().run()
    finally:
        server.shutdown()
    assert not at.exception and not at.error
    assert any("Downloaded xlm-roberta-base" in text for text in texts_of(at, "success"))
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["xlm-roberta-base", "availability"] == "available offline"
    assert "st_catalog_download" not in {b.key for b in at.button}
    assert "This session will train 5 models" in texts_of(at, "subheader")
