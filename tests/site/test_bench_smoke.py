"""`make bench` at a tiny scale: every benchmark still runs against the current schema and reports every
figure ARCHITECTURE.md names (a bench that drifts from the models fails here, not on the night of a 1M run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

# list_page_10000_ratio needs 10,000 pages; at this size the bench reports list_page_deepest_ratio instead.
FIXED_NAMES = [
    "seed_s", "customer360_p95_ms", "customer360_queries", "search_exact_p95_ms", "search_name_p95_ms",
    "list_page_deepest_ratio", "segment_refresh_s", "import_create_rows_per_s", "import_vs_raw_copy_ratio",
    "import_vs_library_default_ratio", "import_update_100k_s", "import_peak_rss_mb", "export_rows_per_s",
    "export_peak_rss_mb", "workbench_p95_ms", "workbench_queries", "reminder_sweep_s", "funnel_ms",
    "board_queries", "rfm_s", "rfm_peak_rss_mb", "cleansing_s", "quality_metrics_s", "dedup_s",
    "dedup_precision", "dedup_recall",
]


def _url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def test_every_benchmark_runs_at_a_tiny_scale_and_reports_every_fixed_figure(tmp_path):
    # A database of its own (`<name>_smoke_bench`), never the 1M `<name>_bench` an engineer keeps.
    base = settings.DATABASES["default"]["NAME"].removeprefix("test_") + "_smoke"
    output = tmp_path / "latest.json"
    env = {**os.environ, "DATABASE_URL": _url(base), "DJANGO_DEBUG": "true"}
    try:
        run = subprocess.run([sys.executable, "-m", "bench", "--scale", "300", "--output", str(output)],  # noqa: S603
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        figures = json.loads(output.read_text())
    finally:
        admin = urlunsplit(urlsplit(_url("postgres"))._replace(scheme="postgresql"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{base}_bench" WITH (FORCE)')
    assert figures["scale"] == 300
    missing = [name for name in FIXED_NAMES if not isinstance(figures.get(name), int | float)]
    assert missing == []
    assert figures["customer360_queries"] <= 15
    assert figures["workbench_queries"] <= 12
    assert figures["board_queries"] <= 12
    assert 0 < figures["dedup_precision"] <= 1
    assert 0 < figures["dedup_recall"] <= 1
