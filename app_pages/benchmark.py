"""Benchmark: several models x seeds on one split, ranked per key; start one, promote a winner."""

import json

import pandas as pd
import streamlit as st

from arena_core.errors import ArenaError
from arena_core.run import benchmark as bm
from arena_core.session.create import SessionSettings, prepare
from arena_core.session.manifest import SplitSettings, TrainingConfig
from arena_core.viz.ranking import duration, ranking_figure
from arena_core.viz.wording import when_text
from ui import dataset_state as ds_state
from ui import session_views as sv
from ui.common import DATASET, STRATEGY, get_store, open_monitor, show_error, table

PICK = "bm_pick"  # str: the benchmark shown
LAUNCHED = "bm_launched"  # {"fingerprint": str, "id": str | None}: guards against double clicks
PROMOTED = "bm_promoted"  # {"<benchmark id> <model>": session id}: one promotion per click
REFRESH_SECONDS = 2.0
CANDIDATES = {
    "tfidf": "TF-IDF baseline (seconds)",
    "embed:minilm": "MiniLM embeddings baseline",
    "tiny": "tiny (quick demo)",
    "minilm": "MiniLM fine-tune (minutes)",
}
WHAT = (
    "A benchmark trains several candidate models, each with several seeds, on the same data "
    "and the same split, then ranks them per key by their mean score, with the spread over "
    "seeds and the training time. Promote the winner to train it as a session of its own."
)


def strategy_choice(key: str, default):
    """A choice made on the Strategy page, else ``default``. Streamlit forgets a widget's value
    on pages that do not show it; ``remember`` keeps a copy under ``key + _KEPT``."""
    return st.session_state.get(key, st.session_state.get(key + ds_state._KEPT, default))


def start_form(store) -> None:
    """Candidates and seeds for the chosen dataset; strategies as chosen on the Strategy page."""
    chosen = ds_state.current()
    if chosen is None or chosen[2] is None:
        st.info("Choose a dataset and its columns first: the benchmark trains on it.")
        sv.page_link(DATASET, "Go to the Dataset page", icon=":material/table:")
        return
    path, source, options = chosen
    try:
        dataset = ds_state.load(path, source, options)
    except ArenaError as exc:
        show_error(exc)
        return
    demo = bool(st.session_state.get(ds_state.IS_DEMO))
    left, right = st.columns([3, 1])
    models = left.multiselect(
        "Candidate models",
        list(CANDIDATES),
        default=["tfidf", "tiny"] if demo else ["tfidf", "embed:minilm", "minilm"],
        format_func=CANDIDATES.get,
        key="bm_models",
    )
    seeds = right.number_input("Seeds", 1, 5, 3, key="bm_seeds")
    test_ratio = right.number_input("Test share", 0.0, 0.5, 0.2, step=0.05, key="bm_test")
    strategies = {k: strategy_choice(f"st_strategy_{k}", "auto") for k in dataset.keys}
    per_language = bool(strategy_choice("st_per_language", False) and dataset.languages)
    epochs = int(strategy_choice("st_epochs", 1 if demo else 0)) or None
    parts = [source, "strategies " + ", ".join(f"{k}: {v}" for k, v in strategies.items())]
    if per_language:
        parts.append("one set of models per language")
    if epochs:
        parts.append(f"{epochs} epoch{'s' if epochs > 1 else ''}")
    st.caption(", ".join(parts) + " (change them on the Strategy page).")
    sv.page_link(STRATEGY, "Choose strategies", icon=":material/tune:")
    seed = int(strategy_choice("st_seed", 42))
    settings = SessionSettings(
        strategies=strategies,
        per_language=per_language,
        min_examples=int(st.session_state.get(ds_state.MIN_EXAMPLES, 2)),
        split=SplitSettings(test_ratio=float(test_ratio), seed=seed),
        training=TrainingConfig(model=(models or ["tfidf"])[0], epochs=epochs, seed=seed),
        name=source.rsplit(".", 1)[0],
    )
    seed_list = [seed + i for i in range(int(seeds))]
    try:
        bm.check_candidates(models, seed_list)
        prepared = prepare(dataset, settings, ds_state.source_sha256(path))
    except ArenaError as exc:
        show_error(exc)
        return
    n_runs = len(models) * len(seed_list)
    st.caption(f"{n_runs} sessions of {len(prepared.jobs)} models each, queued on this machine.")
    launch_button(store, prepared, models, seed_list, path, options)


def launch_button(store, prepared, models, seeds, path, options) -> None:
    """Launch at most once per set of choices (a double click must not start two benchmarks)."""
    manifest = prepared.manifest.model_dump(mode="json", exclude={"created_at", "updated_at"})
    fingerprint = json.dumps(
        {"path": path, "options": options.model_dump(), "models": models, "seeds": seeds}
        | {"manifest": manifest},
        sort_keys=True,
    )
    launched = st.session_state.get(LAUNCHED)
    already = bool(launched and launched["fingerprint"] == fingerprint)
    if already and launched["id"]:
        st.success("Launched: its ranking is below. Change a choice to launch another.")
    if not st.button(
        "Launch benchmark",
        key="bm_launch",
        type="primary",
        disabled=already,
        icon=":material/rocket_launch:",
    ):
        return
    st.session_state[LAUNCHED] = {"fingerprint": fingerprint, "id": None}
    try:
        bench = bm.create_benchmark(store, prepared, models, seeds)
    except ArenaError as exc:
        st.session_state.pop(LAUNCHED, None)
        show_error(exc)
        return
    st.session_state[LAUNCHED] = {"fingerprint": fingerprint, "id": bench.id}
    st.session_state[PICK] = bench.id
    try:
        bm.launch_benchmark(store, bench.id)
    except ArenaError as exc:
        st.error("The benchmark was created but not every session started.")
        show_error(exc)
        return
    st.rerun()


def label(bench: bm.Benchmark) -> str:
    date = when_text(bench.created_at)
    return f"{bench.name} · {date} · {', '.join(bench.models)} × {len(bench.seeds)} seeds"


def member_status(store, bench: bm.Benchmark) -> None:
    """Finished/total, a progress bar while sessions train, what failed or never started."""
    total, done = len(bench.members), bench.count(bm.FINISHED)
    failed = [m for m in bench.members if m.state == bm.FAILED]
    if bench.running:
        training = sum(m.status == "running" for m in bench.members)
        st.progress(
            (done + len(failed)) / total,
            text=f"{done} of {total} sessions finished, {training} training, the rest waiting.",
        )
    else:
        st.markdown(f"**{done} of {total} sessions finished.**")
    if failed:
        st.warning(
            f"{len(failed)} session(s) did not finish and are left out of the scores: "
            + ", ".join(f"{m.model} seed {m.seed} ({m.status})" for m in failed),
            icon=":material/warning:",
        )
    ready = [m for m in bench.members if m.status == "ready"]
    if (
        ready
        and not bench.running
        and st.button(f"Start the {len(ready)} waiting sessions", key="bm_start_rest")
    ):
        sv.run_action(lambda: bm.launch_benchmark(store, bench.id), "Started.")
        st.rerun()
    with st.expander("Sessions"):
        rows = [
            {"Model": m.model, "Seed": m.seed, "Status": sv.status_text(m.status)}
            for m in bench.members
        ]
        table(pd.DataFrame(rows))


def promote_button(store, bench: bm.Benchmark, key: str, winner: str) -> None:
    """Train the key's winner as a full session, then follow it on the Monitor page."""
    done = st.session_state.setdefault(PROMOTED, {})
    if session_id := done.get(f"{bench.id} {winner}"):
        if st.button(f"Open the promoted {winner}", key=f"bm_open_{key}"):
            open_monitor(session_id)
        return
    if st.button(
        f"Promote {winner}",
        key=f"bm_promote_{key}",
        disabled=bench.running,
        help="Wait until every session ended." if bench.running else None,
        icon=":material/trending_up:",
    ):
        session_id = sv.run_action(lambda: bm.promote(store, bench.id, winner))
        if session_id:
            done[f"{bench.id} {winner}"] = session_id
            open_monitor(session_id)


def ranking_view(store, bench: bm.Benchmark) -> None:
    table = bm.ranking(store, bench.id, bench)
    split = next((rows[0]["split"] for rows in table.values() if rows), bm.VALIDATION)
    st.caption(
        f"Scores on the {split} split, mean ± standard deviation over seeds."
        + (" Per language first, then lowered by their spread." if bench.per_language else "")
    )
    for key, rows in table.items():
        metric = bm.metric_name(bench.keys.get(key, ""))
        st.subheader(key)
        scored = [r for r in rows if r["score_mean"] is not None]
        if not scored:
            st.info("No session has finished this key yet.")
            continue
        figure = ranking_figure(rows, f"{metric} on the {split} split", metric)
        st.plotly_chart(figure, key=f"bm_chart_{key}")
        for row in rows:
            if row["n_pending"] or row["n_failed"]:
                st.caption(
                    f"{row['model']}: {row['n_seeds']} seeds scored, {row['n_pending']} "
                    f"still to train, {row['n_failed']} left out."
                )
        if bench.per_language:
            languages = dict.fromkeys(lang for r in scored for lang in r["per_language"])
            table(
                pd.DataFrame(
                    [
                        {"Model": r["model"]}
                        | {lang: f"{r['per_language'].get(lang, 0):.3f}" for lang in languages}
                        for r in scored
                    ]
                ),
                hide_index=True,
                key=f"bm_lang_{key}",
            )
        best = scored[0]
        st.caption(
            f"Best: {best['model']}, {best['score_mean']:.3f} in {duration(best['seconds'])} "
            "of training per seed."
        )
        promote_button(store, bench, key, best["model"])


# ---- page
st.title("Benchmark")
st.caption(WHAT)
store = get_store()
try:
    benchmarks = bm.list_benchmarks(store, sv.list_sessions(store))
except ArenaError as exc:
    show_error(exc)
    st.stop()
with st.expander("Start a benchmark", expanded=not benchmarks, icon=":material/add:"):
    start_form(store)
if not benchmarks:
    st.info(
        "No benchmark yet. Start one above on the dataset you chose on the Dataset page, or "
        "from a terminal: arena benchmark DATA --models tfidf,minilm --seeds 3"
    )
    sv.page_link(DATASET, "Choose a dataset", icon=":material/table:")
    st.stop()

by_id = {b.id: b for b in benchmarks}
if st.session_state.get(PICK) not in by_id:
    st.session_state[PICK] = benchmarks[0].id
picked = st.selectbox("Benchmark", list(by_id), format_func=lambda i: label(by_id[i]), key=PICK)
live = by_id[picked].running


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def results() -> None:
    """Re-runs alone every REFRESH_SECONDS while sessions train; a full rerun stops it."""
    try:
        now = bm.load_benchmark(store, picked, sv.list_sessions(store))
    except ArenaError as exc:
        show_error(exc)
        return
    if live and not now.running:
        st.rerun()  # everything ended: a full rerun turns the refresh off
    member_status(store, now)
    ranking_view(store, now)


results()
