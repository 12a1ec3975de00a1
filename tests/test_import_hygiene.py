"""Pages render fast because heavy imports stay out of them; the core never imports streamlit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAGES_SCRIPT = """
import os, sys, tempfile
os.environ["ARENA_HOME"] = tempfile.mkdtemp()
from streamlit.testing.v1 import AppTest
for page in ["home", "dataset", "strategy", "sessions", "monitor", "compare", "benchmark", "predict"]:
    at = AppTest.from_file(f"app_pages/{page}.py", default_timeout=60)
    at.run()
    assert not at.exception, (page, at.exception)
heavy = sorted(m for m in ("torch", "transformers", "sklearn", "lingua") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_pages_render_without_torch_or_transformers():
    result = subprocess.run(
        [sys.executable, "-c", PAGES_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY=\n" in result.stdout or result.stdout.strip().endswith("HEAVY="), result.stdout


def test_core_modules_used_by_pages_import_no_heavy_library():
    script = (
        "import sys\n"
        "import arena_core.store.session_store, arena_core.session.create\n"
        "import arena_core.run.control, arena_core.data.dataset\n"
        "import arena_core.viz.charts, arena_core.viz.compare, arena_core.session.describe\n"
        "import arena_core.legacy.importer, arena_core.legacy.repair\n"
        "import arena_core.store.metrics_log, arena_core.cli.main\n"
        "print(sorted(m for m in ('torch','transformers','streamlit') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_arena_core_never_imports_streamlit():
    pattern = re.compile(r"^\s*(import|from)\s+streamlit", re.MULTILINE)
    offenders = [
        p.name for p in (ROOT / "arena_core").rglob("*.py") if pattern.search(p.read_text())
    ]
    assert offenders == []
