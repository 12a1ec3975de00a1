"""The Sessions page with many sessions, timed in a real browser (headless Chromium).

What a user waits for, not only the store call: from navigating to the page until the session
table is drawn with its rows (the grid reports its rows, at most ui.session_views.TABLE_ROWS,
and shows its first) and the caption "n of n sessions" is visible.

- ``cold``: a new Streamlit server process (nothing in memory; what is on disk, such as the
  session index, stays), one load of ``/sessions``; median of ``COLD_RUNS`` servers. The first
  server after the sessions were generated is timed apart (``first``: no index on disk yet).
- ``warm``: the same server, the page opened again from the sidebar (Dataset, then Sessions:
  a rerun of the page in the same browser session); median of ``WARM_RUNS``. A full reload of
  the page (the frontend boots again) is timed too, for information.
- ``floor``: the same cold and warm renders over 3 sessions: what does not depend on the number
  of sessions (the frontend, the server's first imports).
- ``listing``: the page's listing alone, in the bench process (a new ``ListingCache``, then
  reruns): the part of the figures that the session index changes.

One Chromium serves every run, in one context, so its HTTP cache holds the frontend after an
untimed first load: a cold figure is the server's cost, not a first download of the frontend.
The sessions come from ``bench.listing.generate_store``; the server, browser and waits from
``tests/browser_support.py`` (shared with the browser tests, not copied).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, machine, median, offline_env, rounded, scratch

SIZES = {"smoke": [50], "small": [10000], "full": [10000]}
COLD_RUNS, WARM_RUNS = 3, 5
SMOKE_WARM_RUNS = 1  # the smoke size: one server (no index yet) and one reopening
TIMEOUT_S = 120.0  # one render; a page that never shows its table fails the measure
WARMUP_SESSIONS = 3
VIEWPORT = {"width": 1400, "height": 1000}

# The grid draws its rows from the data it received: it reports every row (header + n) and has
# rendered the first data row's cells.
GRID_DRAWN_JS = """(n) => {
  const grid = document.querySelector('[data-testid="stDataFrame"] table[role="grid"]');
  return !!grid && grid.getAttribute('aria-rowcount') === String(n + 1)
    && !!grid.querySelector('tbody td[aria-colindex="1"]')
    && !!document.querySelector('[data-testid="stDataFrame"] canvas');
}"""


def _browser_support() -> Any:
    """tests/browser_support.py: start/stop a server, Chromium's flags, waits."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import browser_support

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # never 'playwright install': the system Chromium is used
        raise RuntimeError("the 'playwright' package is missing (requirements-dev.txt)") from exc
    if browser_support.chromium_path() is None:
        raise RuntimeError("no Chromium found (apt-get install -y chromium, or $ARENA_CHROMIUM)")
    return browser_support


def _wait_table(bs: Any, page: Any, n: int) -> None:
    from ui.session_views import TABLE_ROWS  # the page lists at most this many (newest first)

    bs.wait_for_text(page, f"{n} of {n} sessions", TIMEOUT_S)
    rows = min(n, TABLE_ROWS)
    page.wait_for_function(GRID_DRAWN_JS, arg=rows, timeout=TIMEOUT_S * 1000)


def open_cold(bs: Any, page: Any, url: str, n: int) -> float:
    """Navigate to the Sessions page; seconds until its table is drawn."""
    start = time.perf_counter()
    page.goto(f"{url}/sessions", wait_until="commit")
    _wait_table(bs, page, n)
    return time.perf_counter() - start


def open_again(bs: Any, page: Any, n: int) -> float:
    """Dataset, then Sessions from the sidebar (same browser session); seconds for the second.

    Not through Home: it lists the sessions its own way (``SessionStore.list``, which writes a
    ``listing.json`` into every folder the first time) and would time that, not this page."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    bs.goto_page(page, "Dataset", TIMEOUT_S)
    bs.wait_idle(page, TIMEOUT_S)
    start = time.perf_counter()
    nav.get_by_role("link", name="Sessions", exact=True).click()
    _wait_table(bs, page, n)
    return time.perf_counter() - start


def _server_run(
    bs: Any, page: Any, home: Path, n: int, warm: int, reload: bool = True
) -> dict[str, Any]:
    """One fresh server: its cold render, then ``warm`` reopenings and a full reload."""
    load = machine()["load_avg_1m"]
    with bs.running_app(home, log_dir=home.parent) as app:
        cold = open_cold(bs, page, app.base_url, n)
        again = [open_again(bs, page, n) for _ in range(warm)]
        reloaded = open_cold(bs, page, app.base_url, n) if reload else None
    return {"cold_s": cold, "warm_s": again, "reload_s": reloaded, "load_avg_1m": load}


def _floor(bs: Any, page: Any) -> dict[str, float]:
    """The same page over ``WARMUP_SESSIONS`` sessions: the first load fills the browser's HTTP
    cache with the frontend (untimed in the figures); then a new server's cold render and a
    reopening, the part of the figures that does not depend on the number of sessions."""
    from .listing import generate_store

    with scratch("page-floor") as folder:
        home = folder / "home"
        generate_store(home, WARMUP_SESSIONS)
        with bs.running_app(home, log_dir=folder) as app:
            warm_up = open_cold(bs, page, app.base_url, WARMUP_SESSIONS)
        found = _server_run(bs, page, home, WARMUP_SESSIONS, warm=3, reload=False)
    return {
        "browser_warmup_s": rounded(warm_up),
        "floor_cold_s": rounded(found["cold_s"]),
        "floor_warm_s": rounded(median(found["warm_s"])),
    }


def time_listing(home: Path, cold_runs: int, warm_runs: int) -> dict[str, Any]:
    """The page's listing alone (``ui.session_views.list_sessions`` without Streamlit), in this
    process: a new ``ListingCache`` (a new server: what is on disk is kept), then reruns."""
    from arena_core.store.listing import ListingCache
    from arena_core.store.session_store import SessionStore

    store = SessionStore(home)

    def seconds(cache: ListingCache) -> float:
        start = time.perf_counter()
        cache.rows(store.sessions_root, store.summary)
        return time.perf_counter() - start

    caches = max(cold_runs, 1)
    cold, warm = [], []
    for _ in range(caches):
        cache = ListingCache()
        cold.append(seconds(cache))
        warm += [seconds(cache) for _ in range(-(-warm_runs // caches))]
    return {"listing_cold_s": rounded(median(cold)), "listing_warm_s": rounded(median(warm))}


def time_page(
    home: Path, n: int, cold_runs: int, warm_runs: int, floor: bool = True
) -> dict[str, Any]:
    """Time the page over the ``n`` sessions of ``home`` on ``1 + cold_runs`` fresh servers
    (the first one apart), ``warm_runs`` reopenings spread over the others (over the first
    when ``cold_runs`` is 0)."""
    bs = _browser_support()
    spread = [warm_runs // cold_runs + (i < warm_runs % cold_runs) for i in range(cold_runs)]
    first_warm = 0 if cold_runs else warm_runs
    result: dict[str, Any] = {"n": n}
    with bs.browser() as chromium:
        page = chromium.new_context(viewport=VIEWPORT).new_page()
        if floor:
            result.update(_floor(bs, page))
        first = _server_run(bs, page, home, n, first_warm, reload=False)
        runs = [_server_run(bs, page, home, n, warm) for warm in spread]
        result.update(time_listing(home, cold_runs, warm_runs))
    warm_s = [s for run in (first, *runs) for s in run["warm_s"]]
    reloads = [run["reload_s"] for run in runs if run["reload_s"] is not None]
    result.update(
        first_s=rounded(first["cold_s"]),
        cold_s=rounded(median([run["cold_s"] for run in runs])),
        warm_s=rounded(median(warm_s)),
        reload_s=rounded(median(reloads)),
        cold_runs_s=[rounded(run["cold_s"]) for run in runs],
        warm_runs_s=[rounded(s) for s in warm_s],
        load_avg_1m=[first["load_avg_1m"], *(run["load_avg_1m"] for run in runs)],
    )
    return result


def measure(n: int, cold_runs: int, warm_runs: int, floor: bool = True) -> dict[str, Any]:
    """Generate ``n`` sessions in a scratch home and time the page over them."""
    from .listing import generate_store

    with scratch(f"page{n}") as folder:
        home = folder / "home"
        start = time.perf_counter()
        generate_store(home, n)
        generated = rounded(time.perf_counter() - start)
        return {**time_page(home, n, cold_runs, warm_runs, floor), "generate_s": generated}


def run(size: str = "small") -> dict[str, Any]:
    offline_env()
    smoke = size == "smoke"
    cold_runs, warm_runs = (0, SMOKE_WARM_RUNS) if smoke else (COLD_RUNS, WARM_RUNS)
    # the smoke size runs one server, not six; the timed code is the same
    measured = {n: measure(n, cold_runs, warm_runs, floor=not smoke) for n in SIZES[size]}
    found = measured.get(10000, {})
    return {
        "figures": {
            "sessions_page_cold_10000_s": found.get("cold_s"),
            "sessions_page_warm_10000_s": found.get("warm_s"),
            "sessions_page_first_10000_s": found.get("first_s"),
        },
        "details": {str(n): m for n, m in measured.items()},
    }
