"""Benchmark mode: candidate models x seeds trained on one split, ranked per key.

A benchmark is a group of ordinary sessions ("members"), one per (model, seed). They share one
dataset snapshot and one split: the first member is created like any session, the others are
relaunches of it (data hard-linked, same split hash), so the ranking compares models, not data.
Nothing is stored besides the members' manifests: each carries a ``benchmark`` entry
(``BenchmarkRef``) naming the group, and a benchmark is found again by scanning the store.
Its id is the id of its first member.

``ranking`` scores each finished member per key on the test split when the split has one, else
on validation, and summarises the seeds per model; how is said in ``benchmark_scores``.
Unfinished and failed members are left out of the means and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from arena_core.errors import ArenaError, ManifestError, SessionBusy
from arena_core.run.benchmark_group import (  # noqa: F401 (re-exported for the front ends)
    FAILED,
    FINISHED,
    NAME_TAG,
    PENDING,
    Benchmark,
    BenchmarkRef,
    Member,
    metric_name,
    tagged,
    untagged,
)
from arena_core.run.benchmark_scores import (  # noqa: F401 (re-exported for the front ends)
    TEST,
    VALIDATION,
    Reports,
    rank,
)
from arena_core.session.create import PreparedSession, create_session
from arena_core.session.describe import session_jobs
from arena_core.session.manifest import SessionManifest, SessionStatus
from arena_core.session.relaunch import create_relaunch
from arena_core.store import paths
from arena_core.store.records import ListingRow, read_report
from arena_core.store.session_store import SessionStore
from arena_core.training.baselines import is_baseline
from arena_core.training.budget import session_budget
from arena_core.training.job_runner import check_model

log = logging.getLogger(__name__)

MAX_MEMBERS = 60  # a typo like --seeds 300 must not queue hundreds of trainings


# ---------------------------------------------------------------- create, launch, wait


def check_candidates(models: Sequence[str], seeds: Sequence[int]) -> tuple[list[str], list[int]]:
    """Cleaned models and seeds; refuses (ArenaError) unusable models before anything is written."""
    models = list(dict.fromkeys(m.strip() for m in models if m and m.strip()))
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not models or not seeds:
        raise ArenaError("A benchmark needs at least one model and one seed.")
    if len(models) * len(seeds) < 2:
        raise ArenaError(
            "A benchmark compares at least two trainings: give two or more models, or two or "
            "more seeds."
        )
    if len(models) * len(seeds) > MAX_MEMBERS:
        raise ArenaError(
            f"{len(models)} models x {len(seeds)} seeds is {len(models) * len(seeds)} "
            f"trainings; a benchmark trains at most {MAX_MEMBERS}."
        )
    for model in models:
        check_model(model)
    return models, seeds


def _base_from_prepared(
    store: SessionStore, prepared: PreparedSession, model: str, seed: int
) -> SessionManifest:
    manifest = prepared.manifest.model_copy(deep=True)
    manifest.training = manifest.training.model_copy(update={"model": model, "seed": seed})
    manifest.budget = session_budget(
        manifest.training, prepared.jobs, prepared.dataset.table, prepared.split
    )
    manifest.name = tagged(manifest.name)
    return create_session(store, replace(prepared, manifest=manifest))


def _mark(store: SessionStore, session_id: str, ref: BenchmarkRef) -> None:
    """Write the group into a member's manifest (and the tag into its name)."""

    def change(manifest: SessionManifest) -> None:
        manifest.benchmark = ref.model_copy(update={"member": session_id}).model_dump()
        manifest.name = tagged(ref.name)

    store.update(session_id, change)


def create_benchmark(
    store: SessionStore,
    source: PreparedSession | str,
    models: Sequence[str],
    seeds: Sequence[int],
) -> Benchmark:
    """One session per (model, seed), all on the same snapshot and split; nothing is started.

    ``source`` is a prepared session (the first member is created from it) or the id of an
    existing session (every member is a relaunch on its data and split; it is left untouched).
    The first member trains a transformer when one is a candidate, so the relaunches inherit a
    training budget. On any failure the members already written are moved to the trash.
    """
    models, seeds = check_candidates(models, seeds)
    first = (next((m for m in models if not is_baseline(m)), models[0]), seeds[0])
    if isinstance(source, PreparedSession):
        name, default_seed = untagged(source.manifest.name), source.manifest.training.seed
        base = _base_from_prepared(store, source, *first)
    else:
        parent = store.load(source)
        name, default_seed = untagged(parent.name), parent.training.seed
        base = create_relaunch(store, source, {"model": first[0], "seed": first[1]})
    created = [base.id]
    try:
        ref = BenchmarkRef(
            id=base.id, name=name, models=models, seeds=seeds, default_seed=default_seed
        )
        _mark(store, base.id, ref)
        for model in models:
            for seed in seeds:
                if (model, seed) != first:
                    child = create_relaunch(store, base.id, {"model": model, "seed": seed})
                    created.append(child.id)
                    _mark(store, child.id, ref)
    except BaseException:
        for session_id in reversed(created):
            try:
                store.trash(session_id)
            except ArenaError:
                log.warning("could not trash %s of a half-created benchmark", session_id)
        raise
    log.info("benchmark %s: %d sessions", base.id, len(created))
    return load_benchmark(store, base.id)


def launch_benchmark(store: SessionStore, benchmark_id: str) -> list[str]:
    """Start every member not started yet; they queue on the machine's worker slots."""
    from arena_core.run import control

    launched = []
    for member in load_benchmark(store, benchmark_id).members:
        if member.status != SessionStatus.READY:
            continue
        try:
            control.launch(store, member.session_id)
        except SessionBusy:
            continue  # another tab or process just started it
        launched.append(member.session_id)
    return launched


def wait_benchmark(
    store: SessionStore,
    benchmark_id: str,
    poll: float = 1.0,
    timeout: float | None = None,
    on_change: Callable[[Benchmark], None] | None = None,
) -> Benchmark:
    """Poll until no member is queued or running; ``on_change`` sees each new state."""
    deadline = None if timeout is None else time.time() + timeout
    last = None
    while True:
        bench = load_benchmark(store, benchmark_id)
        state = [m.status for m in bench.members]
        if on_change and state != last:
            on_change(bench)
        last = state
        if not bench.running:
            return bench
        if deadline is not None and time.time() > deadline:
            raise ArenaError(f"Benchmark {benchmark_id} is still training after {timeout:.0f} s.")
        time.sleep(poll)


def promote(store: SessionStore, benchmark_id: str, model: str, start: bool = True) -> str:
    """Train ``model`` as a full session of its own on the benchmark's data and split (with the
    seed the benchmark was started with); starts it unless ``start`` is False; returns its id."""
    bench = load_benchmark(store, benchmark_id)
    if model not in bench.models:
        raise ArenaError(
            f"'{model}' is not a candidate of benchmark {benchmark_id}: choose one of "
            f"{', '.join(bench.models)}."
        )
    check_model(model)
    child = create_relaunch(store, bench.id, {"model": model, "seed": bench.default_seed})

    def change(manifest: SessionManifest) -> None:
        manifest.benchmark = None
        manifest.name = bench.name

    store.update(child.id, change)
    if start:
        from arena_core.run import control

        control.launch(store, child.id)
    return child.id


# ---------------------------------------------------------------- find


def _ref(manifest: SessionManifest) -> BenchmarkRef | None:
    try:
        return BenchmarkRef.model_validate(manifest.benchmark) if manifest.benchmark else None
    except ValidationError:
        return None


def _assemble(store: SessionStore, group: str, rows: Sequence[ListingRow]) -> Benchmark | None:
    """The benchmark whose id is ``group`` from the rows that may be members (the first member
    and its children); only their manifests are read. None when none is a member."""
    found: list[tuple[Member, SessionManifest, BenchmarkRef]] = []
    for row in rows:
        if row.error is not None or not (row.id == group or row.parent == group):
            continue
        try:
            manifest = store.load(row.id)
        except ArenaError:
            continue
        ref = _ref(manifest)
        if ref is None or ref.id != group or ref.member != row.id:
            continue
        t = manifest.training
        member = Member(row.id, t.model, t.seed, str(row.status), row.created_at)
        found.append((member, manifest, ref))
    if not found:
        return None
    _, manifest, ref = min(found, key=lambda f: f[1].created_at)
    order = {(m, s): i for i, (m, s) in enumerate((m, s) for m in ref.models for s in ref.seeds)}
    members = sorted((f[0] for f in found), key=lambda m: order.get((m.model, m.seed), len(order)))
    return Benchmark(
        id=group,
        name=ref.name,
        models=list(ref.models),
        seeds=list(ref.seeds),
        default_seed=ref.default_seed,
        members=tuple(members),
        keys={k: str(s) for k, s in (manifest.key_strategies or {}).items()},
        per_language=manifest.language.per_language,
        test_share=manifest.split.test_ratio > 0,
        split_sha256=manifest.split.sha256,
    )


def load_benchmark(
    store: SessionStore, benchmark_id: str, rows: Sequence[ListingRow] | None = None
) -> Benchmark:
    """The benchmark with this id (``rows``: a listing already at hand, e.g. a page's cache)."""
    bench = _assemble(store, benchmark_id, store.list() if rows is None else rows)
    if bench is None:
        raise ManifestError(
            f"No benchmark '{benchmark_id}' in {store.sessions_root}: list them with "
            "'python -m arena_core benchmark-list'."
        )
    return bench


def list_benchmarks(
    store: SessionStore, rows: Sequence[ListingRow] | None = None
) -> list[Benchmark]:
    """Every benchmark, newest first. Only tagged sessions whose children are tagged are read."""
    rows = store.list() if rows is None else rows
    candidates = [r for r in rows if r.error is None and r.name.rstrip().endswith(NAME_TAG)]
    groups = dict.fromkeys(r.parent for r in candidates if r.parent)
    found = [bench for group in groups if (bench := _assemble(store, group, candidates))]
    return sorted(found, key=lambda b: (b.created_at, b.id), reverse=True)


# ---------------------------------------------------------------- ranking


def _reports(store: SessionStore, member: Member) -> Reports | None:
    """(model, its report) for each planned model of a member; None when it cannot be read."""
    try:
        manifest = store.load(member.session_id)
    except ArenaError:
        return None
    folder = store.session_dir(member.session_id)
    return [(job, read_report(paths.job_dir(folder, job.id))) for job in session_jobs(manifest)]


def ranking(
    store: SessionStore, benchmark_id: str, bench: Benchmark | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per key, every candidate model best first: ``model``, ``score_mean``, ``score_std`` (over
    seeds), ``seconds`` (mean over seeds of the key's training time), ``n_seeds`` (finished
    seeds in the means), ``n_failed``, ``n_pending``, ``per_language`` and ``split``."""
    bench = bench or load_benchmark(store, benchmark_id)
    reports: dict[str, Reports] = {}
    for member in bench.members:
        if member.state == FINISHED and (found := _reports(store, member)) is not None:
            reports[member.session_id] = found
    return rank(bench, reports)
