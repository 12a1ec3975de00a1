"""Run the benchmarks, print a table with the targets, optionally write the figures as JSON.

    python -m bench                      # every measure at the small size (a few minutes)
    python -m bench --full               # the complete sizes
    python -m bench --only listing       # one measure (repeatable; names below)
    python -m bench --json out.json      # also write the figures (keys in FIGURE_KEYS)
    python bench/run.py ...              # the same

Exit code 0 when every measure ran (missed targets included: figures on a shared machine are
noisy, BENCHMARKS.md says how to read them), 1 when a measure crashed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SIZES, log_levels_kept, machine, offline_env  # noqa: E402

MEASURES = (
    "throughput",
    "ova",
    "listing",
    "sessions_page",
    "relaunch",
    "relaunch_chart",
    "chart_lag",
    "memory",
    "quality",
    "ray_overhead",
    "memory_100k",
    "precision",
    "time_to_quality",
    "ceiling",
)
FIGURE_KEYS = (
    "throughput_ratio_vs_fixed_padding",
    "throughput_ratio_vs_hf_trainer",
    "f1_delta_vs_hf_trainer",
    "ova_shared_vs_separate_ratio",
    "list_1000_s",
    "list_10000_s",
    "relaunch_latency_s",
    "relaunch_to_chart_s",
    "relaunch_to_chart_busy_s",
    "chart_lag_s",
    "peak_rss_mb",
    "quality_default_minus_best_baseline",
    "quality_default_minus_trainer",
    "sessions_page_cold_10000_s",
    "sessions_page_warm_10000_s",
    "ray_overhead_s_per_job",
    "peak_rss_100k_mb",
    "bf16_inference_speedup",
    "bf16_train_step_speedup",
    "bf16_train_f1_delta",
    "time_to_quality_ratio_vs_trainer",
    "train_pct_of_ceiling",
)
EXTRA_KEYS = ("list_1000_cold_s", "list_10000_cold_s", "sessions_page_first_10000_s")
PEAK_RSS_TARGET_MB = 1.5e9 / 2**20  # 1.5 GB; peak_rss_mb is in MiB
PEAK_RSS_100K_TARGET_MB = 2e9 / 2**20  # 2 GB; peak_rss_100k_mb is in MiB

Check = Callable[[float, dict[str, Any]], bool]
# figure -> (label, target as text, check(value, details of its measure) or None for info only)
TARGETS: dict[str, tuple[str, str, Check | None]] = {
    "throughput_ratio_vs_fixed_padding": ("train samples/s, ours / (a) fixed padding", ">= 2.5", lambda v, d: v >= 2.5),
    "throughput_ratio_vs_hf_trainer": ("train samples/s, ours / (b) HF Trainer", ">= 1.15", lambda v, d: v >= 1.15),
    "f1_delta_vs_hf_trainer": ("validation macro-F1, ours - (b)", ">= -0.02", lambda v, d: v >= -0.02),
    "ova_shared_vs_separate_ratio": ("one-vs-all 6 jobs / (6 x one job alone)", "< 1 (info)", None),
    "list_1000_s": ("store.list(), 1,000 sessions (s)", "<= 0.5", lambda v, d: v <= 0.5),
    "list_10000_s": ("store.list(), 10,000 sessions (s)", "<= 3", lambda v, d: v <= 3.0),
    "list_1000_cold_s": ("  same, 1,000, no listing cache yet (s)", "<= 0.5", lambda v, d: v <= 0.5),
    "list_10000_cold_s": ("  same, 10,000, no listing cache yet (s)", "<= 3", lambda v, d: v <= 3.0),
    "sessions_page_cold_10000_s": ("Sessions page, 10,000, new server (s)", "<= 1", lambda v, d: v <= 1.0),
    "sessions_page_warm_10000_s": ("Sessions page, 10,000, opened again (s)", "<= 0.3", lambda v, d: v <= 0.3),
    "sessions_page_first_10000_s": ("  same, new server, no session index yet (s)", "(info)", None),
    "relaunch_latency_s": ("relaunch -> first loss line (s)", "<= 10", lambda v, d: v <= 10.0),
    "relaunch_to_chart_s": ("Relaunch click -> first loss point drawn (s)", "<= 6", lambda v, d: v <= d["target_s"]),
    "relaunch_to_chart_busy_s": ("  same, another session training (s)", "(info)", None),
    "chart_lag_s": ("metric line -> monitor data (s)", "<= refresh + 0.5", lambda v, d: v <= d["target_s"]),
    "peak_rss_mb": ("worker peak RSS, MiniLM b16 L128 (MiB)", "<= 1430 (1.5 GB)", lambda v, d: v <= PEAK_RSS_TARGET_MB),
    "quality_default_minus_best_baseline": ("test macro-F1, default - best baseline (min)", ">= 0", lambda v, d: v >= 0),
    "quality_default_minus_trainer": ("test macro-F1, default - plain Trainer (min)", ">= 0", lambda v, d: v >= 0),
    "ray_overhead_s_per_job": ("Ray executor: extra wall s per job vs local", "(info)", None),
    "peak_rss_100k_mb": ("worker peak RSS, 100,000 rows (MiB)", "<= 1907 (2 GB)", lambda v, d: v <= PEAK_RSS_100K_TARGET_MB and not d.get("stopped")),
    "bf16_inference_speedup": ("eval time fp32 / bf16, MiniLM b16", "> 1 where native", lambda v, d: v > 1 or not d["hardware"]["native_bf16"]),
    "bf16_train_step_speedup": ("train step time fp32 / bf16, MiniLM b16", "(info)", None),
    "bf16_train_f1_delta": ("test macro-F1, bf16 - fp32 training (mean)", ">= -0.01", lambda v, d: v >= -0.01),
    "time_to_quality_ratio_vs_trainer": ("time to val F1, competent Trainer / ours", ">= 1.25", lambda v, d: v >= 1.25),
    "train_pct_of_ceiling": ("training FLOP/s, % of matmul ceiling", "(info)", None),
}  # fmt: skip
MEASURE_OF = {
    "throughput_ratio_vs_fixed_padding": "throughput",
    "throughput_ratio_vs_hf_trainer": "throughput",
    "f1_delta_vs_hf_trainer": "throughput",
    "ova_shared_vs_separate_ratio": "ova",
    "list_1000_s": "listing",
    "list_10000_s": "listing",
    "list_1000_cold_s": "listing",
    "list_10000_cold_s": "listing",
    "sessions_page_cold_10000_s": "sessions_page",
    "sessions_page_warm_10000_s": "sessions_page",
    "sessions_page_first_10000_s": "sessions_page",
    "relaunch_latency_s": "relaunch",
    "relaunch_to_chart_s": "relaunch_chart",
    "relaunch_to_chart_busy_s": "relaunch_chart",
    "chart_lag_s": "chart_lag",
    "peak_rss_mb": "memory",
    "quality_default_minus_best_baseline": "quality",
    "quality_default_minus_trainer": "quality",
    "ray_overhead_s_per_job": "ray_overhead",
    "peak_rss_100k_mb": "memory_100k",
    "bf16_inference_speedup": "precision",
    "bf16_train_step_speedup": "precision",
    "bf16_train_f1_delta": "precision",
    "time_to_quality_ratio_vs_trainer": "time_to_quality",
    "train_pct_of_ceiling": "ceiling",
}


def run_measures(names: list[str], size: str) -> dict[str, Any]:
    """Run each measure in turn; a crash is recorded and the others still run."""
    offline_env()
    results: dict[str, Any] = {}
    for name in names:
        load = machine()["load_avg_1m"]
        print(f"[bench] {name} ({size}) ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            with log_levels_kept("arena_core", "transformers"):
                result = module.run(size)
        except Exception as exc:  # noqa: BLE001 - report it, keep measuring the rest
            result = {
                "figures": {},
                "details": {},
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=8),
            }
        result["seconds"] = round(time.perf_counter() - start, 1)
        result["load_avg_1m_before"] = load
        results[name] = result
        print(f"[bench] {name} done in {result['seconds']} s", file=sys.stderr, flush=True)
    return results


def assemble(results: dict[str, Any], size: str, command: str) -> dict[str, Any]:
    """The JSON document: the figures at top level, then targets, machine and details."""
    figures = {key: None for key in (*FIGURE_KEYS, *EXTRA_KEYS)}
    for result in results.values():
        figures.update({k: v for k, v in result.get("figures", {}).items() if k in figures})
    targets = {}
    for key, (label, target, check) in TARGETS.items():
        value = figures[key]
        details = results.get(MEASURE_OF[key], {}).get("details", {})
        ok = None if value is None or check is None else bool(check(value, details))
        targets[key] = {"label": label, "target": target, "pass": ok}
    return {
        **figures,
        "size": size,
        "command": command,
        "machine": machine(),
        "targets": targets,
        "errors": {n: r["error"] for n, r in results.items() if r.get("error")},
        "measures": results,
    }


def table(document: dict[str, Any]) -> str:
    m = document["machine"]
    is_smoke = document["size"] == "smoke"
    lines = [
        f"Training Arena benchmarks ({document['size']}), {m['date']}, {m['nproc']} cores, "
        f"{m['ram_gb']} GB RAM, load {m['load_avg_1m']} (1 min)",
        *(["smoke size: tiny model and data, the figures mean nothing"] if is_smoke else []),
        "",
        f"{'figure':<44} {'value':>10}  {'target':<18} ok",
        "-" * 80,
    ]
    for key, info in document["targets"].items():
        value = document[key]
        shown = "-" if value is None else f"{value:g}"
        ok = {True: "yes", False: "NO", None: ""}[info["pass"]]
        lines.append(f"{info['label']:<44} {shown:>10}  {info['target']:<18} {ok}")
    extra = _extras(document["measures"])
    if extra:
        lines += ["", *extra]
    for name, error in document["errors"].items():
        lines.append(f"ERROR in {name}: {error}")
    return "\n".join(lines)


def _extras(measures: dict[str, Any]) -> list[str]:
    """A few supporting numbers under the table."""
    out = []
    tp = measures.get("throughput", {}).get("details", {})
    if "medians" in tp:
        for variant, values in tp["medians"].items():
            out.append(
                f"  {variant:<14} train {values['train_samples_per_s']:>7} samples/s, eval "
                f"{values['eval_samples_per_s']:>7} samples/s, macro-F1 {values['macro_f1']}"
            )
    lag = measures.get("chart_lag", {}).get("details", {})
    if "tick_cost" in lag:
        costs = ", ".join(
            f"{c['lines']} lines: read {c['tick_read_ms']} ms / figures {c['tick_figures_ms']} ms"
            for c in lag["tick_cost"]
        )
        out.append(f"  monitor tick (refresh {lag['lag']['refresh_s']} s): {costs}")
    relaunch = measures.get("relaunch_chart", {}).get("details", {})
    for mode, phases in relaunch.get("phase_medians", {}).items():
        shown = ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in phases.items() if k != "cpu_s")
        out.append(f"  relaunch click -> ... ({mode}, s after the click, medians): {shown}")
        cpu = ", ".join(f"{k} {v}" for k, v in phases.get("cpu_s", {}).items())
        out.append(f"    CPU s used meanwhile ({mode}, medians): {cpu}")
    listing = measures.get("listing", {}).get("details", {})
    for n, found in listing.items():
        api = found.get("store_list", {}).get("median_s")
        cli = found.get("cli_list_json", {}).get("median_s")
        page = found.get("sessions_page", {}).get("first_render_s")
        out.append(
            f"  {n} sessions: store.list {api} s, list --json {cli} s, "
            f"Sessions page first render {page} s"
        )
    in_browser = measures.get("sessions_page", {}).get("details", {})
    for n, found in in_browser.items():
        out.append(
            f"  Sessions page, {n} sessions (browser): new server {found.get('cold_runs_s')} s, "
            f"opened again {found.get('warm_runs_s')} s, reload {found.get('reload_s')} s, "
            f"no index yet {found.get('first_s')} s; same page over 3 sessions: new server "
            f"{found.get('floor_cold_s')} s, opened again {found.get('floor_warm_s')} s; its "
            f"listing alone: new process {found.get('listing_cold_s')} s, "
            f"rerun {found.get('listing_warm_s')} s"
        )
    ray = measures.get("ray_overhead", {}).get("details", {})
    if ray.get("wall_s"):
        shown = ", ".join(f"{k} {v} s" for k, v in ray["wall_s"].items())
        out.append(f"  {ray['size']['jobs']} small jobs, session wall time: {shown}")
    ttq = measures.get("time_to_quality", {}).get("details", {})
    if ttq.get("cases"):
        from bench.time_to_quality import summary_lines as ttq_lines

        out += ["  time to the same validation macro-F1, theirs / ours:", *ttq_lines(ttq)]
    roof = measures.get("ceiling", {}).get("details", {})
    if roof.get("ceiling_gflops"):
        out.append(
            f"  training {roof['train_gflops']} GFLOP/s ({roof['train_dtype']}); matmul ceiling "
            f"fp32 {roof['ceiling_gflops']['fp32']}, bf16 {roof['ceiling_gflops']['bf16']} GFLOP/s"
        )
    quality = measures.get("quality", {}).get("details", {})
    if quality.get("summary"):
        from bench.quality import summary_lines

        out += ["  test macro-F1 mean+-std over seeds (median s):", *summary_lines(quality)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the complete sizes (long)")
    parser.add_argument("--size", choices=SIZES, help="smoke | small | full (default small)")
    parser.add_argument("--only", action="append", choices=MEASURES, help="run only this measure")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures here")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each run")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    size = args.size or ("full" if args.full else "small")
    names = [n for n in MEASURES if n in (args.only or MEASURES)]
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    document = assemble(run_measures(names, size), size, command.strip())
    print(table(document))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
