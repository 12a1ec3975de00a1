"""A new user's walk in Chromium: two uploads in a row, then every page with saved sessions,
checking that pages speak in words: no 'None', no snake_case field name, no id as a name.

Tables are drawn on a canvas (no text in the page), so their cells are checked headless in
tests/test_page_wording.py; this file checks everything else a person reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from browser_support import expect_visible, goto_page, shot, wait_for_text, wait_idle
from factories import make_session
from test_browser_e2e import UI_TIMEOUT, select_first_session_row

from arena_core.session.relaunch import create_relaunch
from arena_core.store.session_store import SessionStore
from ui.plan_preview import STRATEGY_TEXT

try:
    from playwright.sync_api import expect
except ImportError:  # require_browser() skips (or fails in CI) with the reason
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PAGES = [
    "Training Arena",
    "Dataset",
    "Strategy",
    "Sessions",
    "Monitor",
    "Compare",
    "Benchmark",
    "Predict",
]
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
NONE_WORD = re.compile(r"\bNone\b")
# What may legitimately hold underscores or ids: file names, and the explicit "id `...`" line.
ALLOWED = [re.compile(r"\S+\.(?:csv|tsv|jsonl|json|parquet|xlsx)\b"), re.compile(r"\bid:? \S+")]


def reviews_file(folder: Path) -> Path:
    path = folder / "reviews.csv"
    pd.DataFrame(
        {
            "review": ["a good film", "a bad film", "great acting", "awful plot"] * 3,
            "stars": [5, 1, 5, 1] * 3,
            "lang": ["en"] * 12,
            "annotation": ['{"sentiment": "pos"}', '{"sentiment": "neg"}'] * 6,
        }
    ).to_csv(path, index=False)
    return path


def news_file(folder: Path) -> Path:
    path = folder / "news.csv"
    pd.DataFrame(
        {
            "id": range(12),
            "body": [f"story number {i} about markets and animals" for i in range(12)],
            "topic": ["animals", "finance", "sports"] * 4,
            "mood": ["happy", "sad"] * 6,
        }
    ).to_csv(path, index=False)
    return path


ICON_TEXTS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] *'))
  .filter((e) => e.children.length === 0 && getComputedStyle(e).fontFamily.includes('Material'))
  .map((e) => e.textContent.trim()).filter((t) => t)"""


def main_text(page) -> str:
    """The main area's visible text, without icon ligatures ('play_arrow' draws an icon)."""
    text = page.locator('[data-testid="stMain"]').inner_text()
    for icon in sorted(set(page.evaluate(ICON_TEXTS_JS)), key=len, reverse=True):
        text = text.replace(icon, " ")
    return text


def wording_problems(text: str, session_ids: list[str]) -> list[str]:
    """What a person should not read: 'None', snake_case names, session ids used as names."""
    for allowed in ALLOWED:
        text = allowed.sub(" ", text)
    problems = [f"'None' in: {line}" for line in text.splitlines() if NONE_WORD.search(line)]
    problems += [f"snake_case '{m}'" for m in SNAKE.findall(text)]
    problems += [f"id {sid} shown" for sid in session_ids if sid in text]
    return problems


def test_a_second_upload_gets_fresh_column_choices(app, page, tmp_path, artifacts_dir):
    page.goto(app.base_url)
    goto_page(page, "Dataset")
    upload = page.locator("input[type=file]")
    upload.set_input_files(str(reviews_file(tmp_path)))
    wait_for_text(page, "reviews.csv: 12 rows, 4 columns", UI_TIMEOUT)
    expect(page.get_by_role("combobox", name="Text column")).to_have_value("review")
    upload.set_input_files(str(news_file(tmp_path)))
    wait_for_text(page, "news.csv: 12 rows, 4 columns", UI_TIMEOUT)
    wait_idle(page)
    # The new file's own guesses, never a column of the previous file.
    expect(page.get_by_role("combobox", name="Text column")).to_have_value("body")
    expect(page.get_by_role("combobox", name="Language column")).to_have_value("(none)")
    expect_visible(page.get_by_role("heading", name="Key: topic"))
    shot(page, artifacts_dir, "01-second-upload")
    page.get_by_role("button", name="Continue to Strategy").click()
    expect_visible(page.get_by_role("heading", name="Strategy", exact=True))
    wait_idle(page)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="column")).to_have_count(0)
    expect_visible(page.get_by_role("heading", name="This session will train 2 models"))
    shot(page, artifacts_dir, "02-strategy")


def test_every_page_speaks_in_words(home, app, page, artifacts_dir):
    store = SessionStore(home)
    parent = make_session(
        store,
        "completed",
        name="reviews",
        strategies={"sentiment": "multi-class", "themes": "one-vs-all"},
    )
    child = create_relaunch(store, parent, {"learning_rate": 3e-4}).id
    ids = [parent, child]
    found: dict[str, list[str]] = {}
    page.goto(app.base_url)
    page.get_by_role("button", name="Try the demo").click()  # a dataset for Dataset/Strategy
    expect_visible(page.get_by_role("heading", name="Strategy", exact=True))
    for title in PAGES:
        if title == PAGES[0]:  # Home: its heading is the app's name, not the link's
            nav = page.locator('[data-testid="stSidebarNav"]')
            nav.get_by_role("link", name="Home", exact=True).click()
            expect_visible(page.get_by_role("heading", name=title))
        else:
            goto_page(page, title)
        wait_idle(page)
        if title == "Sessions":
            select_first_session_row(page)
            wait_for_text(page, "Saved settings", UI_TIMEOUT)
            texts = [main_text(page)]
            for tab in page.get_by_role("tab").all():
                tab.click()
                page.wait_for_timeout(200)
                texts.append(main_text(page))
            text = "\n".join(texts)
        else:
            text = main_text(page)
        shot(page, artifacts_dir, f"walk-{title.lower().replace(' ', '-')}")
        if problems := wording_problems(text, ids):
            found[title] = problems
    assert not found, found


def test_relaunch_with_another_strategy_from_the_form(home, app, page, artifacts_dir):
    store = SessionStore(home)
    parent = make_session(
        store, "completed", name="reviews", strategies={"sentiment": "multi-class"}
    )
    n_values = len(store.load(parent).keys["sentiment"].labels)
    page.goto(app.base_url)
    goto_page(page, "Sessions")
    select_first_session_row(page)
    page.get_by_text("Relaunch with other settings").click()
    page.get_by_role("combobox", name="Strategy for sentiment").click()
    page.get_by_role("option", name=STRATEGY_TEXT["one-vs-all"], exact=True).click()
    wait_idle(page)
    expect_visible(page.get_by_role("heading", name=f"This session will train {n_values} models"))
    expect_visible(page.get_by_text("It will be saved as reviews · relaunch 1"))
    shot(page, artifacts_dir, "01-relaunch-form")
    page.get_by_role("button", name="Relaunch with these settings").click()
    expect_visible(page.get_by_role("heading", name="Monitor", exact=True))
    expect(page.get_by_role("combobox", name="Session", exact=True)).to_have_value(
        re.compile("reviews · relaunch 1")
    )
    [child] = [s for s in store.list() if s.parent == parent]
    assert store.load(child.id).onevsall_keys == ["sentiment"]
    shot(page, artifacts_dir, "02-child-monitor")
