"""The precision setting: what each stage computes in, where it is refused, what is recorded."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from factories import new_session, prepared_session, tiny_config

from arena_core.errors import ArenaError
from arena_core.session.relaunch import preview_relaunch
from arena_core.store import paths
from arena_core.training import precision
from arena_core.training.precision import FP16_NEEDS_CUDA, Hardware, resolve

CPU_PLAIN = Hardware(cuda=False, cuda_bf16=False, cpu_bf16=False)
CPU_BF16 = Hardware(cuda=False, cuda_bf16=False, cpu_bf16=True)
GPU_OLD = Hardware(cuda=True, cuda_bf16=False, cpu_bf16=True)  # pre-Ampere: fp16 only
GPU_BF16 = Hardware(cuda=True, cuda_bf16=True, cpu_bf16=False)


@pytest.fixture
def no_cuda(monkeypatch):
    """This machine, as far as precision knows, has no GPU (and a CPU with native bf16)."""
    monkeypatch.setattr(precision, "hardware", lambda: CPU_BF16)


# ---------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    "setting, hw, train, evaluate",
    [
        ("auto", CPU_PLAIN, "fp32", "fp32"),  # emulated bf16 is slower: never automatic
        ("auto", CPU_BF16, "AUTO", "bf16"),
        ("auto", GPU_OLD, "fp32", "fp32"),  # the GPU takes the work; its bf16 is what counts
        ("auto", GPU_BF16, "AUTO", "bf16"),
        ("fp32", CPU_BF16, "fp32", "fp32"),
        ("fp32", GPU_BF16, "fp32", "fp32"),
        ("bf16", CPU_PLAIN, "bf16", "bf16"),  # allowed, with a warning
        ("bf16", CPU_BF16, "bf16", "bf16"),
        ("fp16", GPU_OLD, "fp16", "fp16"),
        ("fp16", GPU_BF16, "fp16", "fp16"),
    ],
)
def test_resolve_table(setting, hw, train, evaluate):
    native = "bf16" if hw.native_bf16 else "fp32"
    expected_train = (
        (native if precision.AUTO_TRAINS_BF16 else "fp32") if train == "AUTO" else train
    )
    assert resolve(setting, "train", hw) == expected_train
    assert resolve(setting, "evaluate", hw) == evaluate
    assert resolve(setting, "predict", hw) == evaluate
    assert precision.resolve_all(setting, hw) == {"train": expected_train, "evaluate": evaluate}


@pytest.mark.parametrize("trains_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_trains_in_bf16_only_when_the_benchmark_said_so(monkeypatch, trains_bf16, expected):
    monkeypatch.setattr(precision, "AUTO_TRAINS_BF16", trains_bf16)
    assert resolve("auto", "train", CPU_BF16) == expected
    assert resolve("auto", "train", CPU_PLAIN) == "fp32"
    assert resolve("auto", "evaluate", CPU_BF16) == "bf16"


def test_fp16_without_cuda_is_refused_with_what_to_do():
    for hw in (CPU_PLAIN, CPU_BF16):
        with pytest.raises(ArenaError) as caught:
            resolve("fp16", "train", hw)
        assert str(caught.value) == FP16_NEEDS_CUDA
        assert "CUDA GPU" in FP16_NEEDS_CUDA and "choose auto" in FP16_NEEDS_CUDA
    with pytest.raises(ArenaError, match="Unknown precision 'fp8'"):
        resolve("fp8", "train", CPU_BF16)


def test_explicit_bf16_without_native_support_warns_once(caplog):
    precision._warn_emulated.cache_clear()
    with caplog.at_level(logging.WARNING, logger=precision.__name__):
        resolve("bf16", "train", CPU_PLAIN)
        resolve("bf16", "evaluate", CPU_PLAIN)
        resolve("bf16", "train", CPU_BF16)
    warnings = [r.message for r in caplog.records if "emulates" in r.message]
    assert len(warnings) == 1
    precision._warn_emulated.cache_clear()


def test_cpu_flags_decide_native_bf16(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    base = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n"
    for extra, native in (
        ("avx512_bf16", True),
        ("amx_bf16 amx_tile", True),
        ("avx512_vnni", False),
    ):
        cpuinfo.write_text(base.format(extra=extra))
        assert precision.cpu_native_bf16(cpuinfo) is native
    assert precision.cpu_native_bf16(tmp_path / "absent") is False  # not Linux: unknown = no


def test_the_setting_reads_as_what_it_does_here():
    from arena_core.viz.wording import field_label, value_text

    assert precision.setting_text("auto", cpu_bf16=False).startswith("auto (fp32 on this CPU")
    native = precision.setting_text("auto", cpu_bf16=True)
    assert native.startswith("auto (bf16 for ") and "evaluation" in native
    assert precision.setting_text("fp32") == "fp32"
    assert value_text("auto", "precision").startswith("auto (")
    assert value_text({"train": "fp32", "evaluate": "bf16"}, "precision") == (
        "train: fp32; evaluate: bf16"
    )
    assert field_label("precision") == "Precision"


# ---------------------------------------------------------------- sessions: settings


def test_a_new_session_defaults_to_auto_and_keeps_an_explicit_choice(store):
    assert prepared_session().manifest.training.precision == "auto"
    session = new_session(store, precision="bf16")
    assert store.load(session).training.precision == "bf16"


def test_fp16_on_cpu_is_refused_at_creation_and_relaunch_writing_nothing(store, no_cuda):
    with pytest.raises(ArenaError) as caught:
        prepared_session(precision="fp16")
    assert str(caught.value) == FP16_NEEDS_CUDA
    assert store.list() == []

    parent = new_session(store)
    with pytest.raises(ArenaError) as caught:
        preview_relaunch(store, parent, {"precision": "fp16"})
    assert str(caught.value) == FP16_NEEDS_CUDA
    from arena_core.run import control

    with pytest.raises(ArenaError, match="fp16 needs a CUDA GPU"):
        control.relaunch(store, parent, {"precision": "fp16"}, start=False)
    assert [s.id for s in store.list()] == [parent]  # no child written


def test_a_v2_session_reads_fp32_and_relaunches_in_fp32(store):
    session = new_session(store)
    manifest_file = store.session_dir(session) / paths.MANIFEST
    raw = json.loads(manifest_file.read_text())
    raw["schema_version"] = 2
    del raw["training"]["precision"]
    manifest_file.write_text(json.dumps(raw))
    assert store.load(session).training.precision == "fp32"
    assert preview_relaunch(store, session).training.precision == "fp32"


# ---------------------------------------------------------------- training for real


@pytest.fixture
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: 1 thread runs the tiny model much faster
    yield
    torch.set_num_threads(before)


@pytest.fixture
def linear_dtypes():
    """(grad enabled, output dtype) of every nn.Linear forward, through a global forward hook."""
    import torch

    seen: Counter = Counter()

    def hook(module, args, output):
        if isinstance(module, torch.nn.Linear):
            seen[(torch.is_grad_enabled(), output.dtype)] += 1

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    yield seen
    handle.remove()


def test_bf16_session_trains_in_bf16_records_it_and_predicts(
    store, one_torch_thread, linear_dtypes
):
    import torch

    from arena_core.run.worker import run_session
    from arena_core.store.records import read_report
    from arena_core.training.predict import Predictor

    session = new_session(
        store, strategies={"sentiment": "multi-class"}, precision="bf16", learning_rate=1e-3
    )
    assert run_session(store, session).value == "completed"
    job = store.load(session).plan[0]
    job_dir = paths.job_dir(store.session_dir(session), job.id)
    report = read_report(job_dir)
    assert report.precision == {"train": "bf16", "evaluate": "bf16"}
    assert report.device == "cpu"
    # the Sessions page's models table says what the job computed in
    from arena_core.session.describe import job_results
    from ui.job_tables import results_frame

    rows = job_results(store.session_dir(session), store.load(session))
    assert [r["ran_in"] for r in rows] == ["bf16 on cpu"]
    assert results_frame(rows)["computed in"].tolist() == ["bf16 on cpu"]
    # the hook saw the linear layers compute in bf16, in training steps and in validation
    assert linear_dtypes[(True, torch.bfloat16)] > 0
    assert linear_dtypes[(False, torch.bfloat16)] > 0
    assert not [key for key in linear_dtypes if key[1] == torch.float32]
    # the saved weights stay fp32 (bf16 was autocast over fp32 master weights)
    predictor = Predictor.load(job_dir / paths.JOB_MODEL, precision="bf16")
    assert {p.dtype for p in predictor.model.parameters()} == {torch.float32}
    assert predictor.precision == "bf16"
    linear_dtypes.clear()
    results = predictor.predict(["great shop", "awful service", ""])
    assert linear_dtypes[(False, torch.bfloat16)] > 0  # predicted under bf16 autocast
    assert all(r["label"] in job.labels for r in results)
    assert all(abs(sum(r["scores"].values()) - 1) < 1e-5 for r in results)  # softmax in fp32


def test_auto_records_each_stage_and_fp32_stays_fp32(tmp_path, one_torch_thread, linear_dtypes):
    import torch
    from factories import SENTIMENTS, make_split, trainer_table

    from arena_core.session.strategy import ModelJob, Strategy
    from arena_core.store.metrics_log import MetricsWriter
    from arena_core.training.trainer import train_job

    table = trainer_table(60, {"sentiment": SENTIMENTS}, seed=0)
    split = make_split(table)
    job = ModelJob(id="s", key="sentiment", strategy=Strategy.MULTI_CLASS, labels=SENTIMENTS)
    metrics = MetricsWriter(tmp_path / paths.METRICS)
    fp32 = train_job(job, tiny_config(precision="fp32"), table, split, tmp_path / "a", metrics)
    assert fp32.precision == {"train": "fp32", "evaluate": "fp32"}
    assert set(linear_dtypes) == {(True, torch.float32), (False, torch.float32)}
    linear_dtypes.clear()
    auto = train_job(job, tiny_config(precision="auto"), table, split, tmp_path / "b", metrics)
    assert auto.precision == precision.resolve_all("auto")
    train_dtype = torch.bfloat16 if auto.precision["train"] == "bf16" else torch.float32
    eval_dtype = torch.bfloat16 if auto.precision["evaluate"] == "bf16" else torch.float32
    assert set(linear_dtypes) == {(True, train_dtype), (False, eval_dtype)}
    # Predict follows the session's own setting unless told otherwise: fp32 stays fp32
    from arena_core.training.predict import Predictor

    assert Predictor.load(tmp_path / "a" / paths.JOB_MODEL).precision == "fp32"
    assert Predictor.load(tmp_path / "b" / paths.JOB_MODEL).precision == precision.resolve(
        "auto", "predict"
    )
    assert Predictor.load(tmp_path / "a" / paths.JOB_MODEL, precision="auto").precision == (
        precision.resolve("auto", "predict")
    )


def test_training_arguments_follow_the_train_stage(tmp_path, monkeypatch):
    from arena_core.training.hf_loop import training_args

    monkeypatch.setattr(precision, "hardware", lambda: CPU_BF16)
    monkeypatch.setattr(precision, "AUTO_TRAINS_BF16", False)
    args = training_args(tiny_config(precision="auto"), tmp_path, True, epochs=1)
    assert not args.bf16 and not args.fp16
    monkeypatch.setattr(precision, "AUTO_TRAINS_BF16", True)
    args = training_args(tiny_config(precision="auto"), tmp_path, True, epochs=1)
    assert args.bf16 and not args.fp16
    args = training_args(tiny_config(precision="fp32"), tmp_path, True, epochs=1)
    assert not args.bf16
    with pytest.raises(ArenaError, match="CUDA GPU"):
        training_args(tiny_config(precision="fp16"), tmp_path, True, epochs=1)


def test_the_worker_refuses_fp16_without_cuda(store, no_cuda, monkeypatch):
    """A session made on a GPU machine, run where there is none: its job fails with the message."""
    from arena_core.run.worker import run_session
    from arena_core.store.records import read_progress

    monkeypatch.setattr(precision, "hardware", lambda: GPU_BF16)
    session = new_session(store, strategies={"sentiment": "multi-class"}, precision="fp16")
    monkeypatch.setattr(precision, "hardware", lambda: CPU_BF16)
    assert run_session(store, session).value == "failed"
    errors = [job.error for job in read_progress(store.session_dir(session)).jobs.values()]
    assert errors and all(FP16_NEEDS_CUDA in (e or "") for e in errors)


# ---------------------------------------------------------------- command line


def test_cli_new_takes_precision_and_refuses_fp16_on_cpu(tmp_path, home, no_cuda, capsys):
    from factories import make_rows, write_dataset

    from arena_core.cli.main import main
    from arena_core.store.session_store import SessionStore

    data = write_dataset(tmp_path, "csv", make_rows(40), "rows")
    base = ["--home", str(home), "new", str(data), "--model", "tiny", "--no-start", "--json"]
    assert main([*base, "--precision", "fp16"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {FP16_NEEDS_CUDA}"
    assert not SessionStore(home).list()
    assert main([*base, "--precision", "bf16"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert SessionStore(home).load(created["id"]).training.precision == "bf16"
    assert main([*base]) == 0
    created = json.loads(capsys.readouterr().out)
    assert SessionStore(home).load(created["id"]).training.precision == "auto"
    with pytest.raises(SystemExit):
        main([*base, "--precision", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err


def test_what_a_job_computed_in_reads_in_words():
    from arena_core.session.describe import ran_in

    assert ran_in({"train": "fp32", "evaluate": "bf16"}, "cpu") == (
        "train fp32, evaluate bf16 on cpu"
    )
    assert ran_in({"train": "fp16", "evaluate": "fp16"}, "cuda:0") == "fp16 on cuda:0"
    assert ran_in(None, "cpu") is None  # a report written before these fields
