"""`make bench [SCALE=N]`: measure what exists, write bench/results/latest.json (flat name → number).

Runs in a database of its own (`<name>_bench`), so the development data is never touched.
Figures are ratios against a baseline measured in the same run where the metric is a ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _bench_database(*, fresh: bool) -> None:
    """Point DATABASE_URL at a fresh `<name>_bench`, so every run measures a load from empty."""
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/") + "_bench"
    admin = urlunsplit(url._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{name}"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", type=int, default=5000, help="customers to seed (default 5,000)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the bench database as it is (no drop, no seed): repeat runs at 1M")
    parser.add_argument("--only", default="",
                        help="comma-separated bench functions to run (e.g. cleansing,metrics,dedup); default all")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"),
                        help="where the figures go (default bench/results/latest.json)")
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}

    def want(name: str) -> bool:
        return not wanted or name in wanted

    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    _bench_database(fresh=not args.reuse)
    import django

    django.setup()
    import random

    from django.conf import settings

    # Measure as production runs: DEBUG on wraps every cursor to log its queries and keeps template
    # debug information, which costs more than the queries themselves on a page like the 360° view.
    settings.DEBUG = False

    from django.core.management import call_command
    from django.db import connection

    from bench import customers as customer_bench
    from bench import interactions as interactions_bench
    from bench import quality as quality_bench

    results: dict[str, float | int | str] = {"scale": args.scale}
    if not args.reuse:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        call_command("seed_demo", customers=args.scale, duplicates="2%", verbosity=0,
                     stdout=open(os.devnull, "w"))  # noqa: SIM115
        results["seed_s"] = round(time.perf_counter() - started, 3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rng = random.Random(2026)
    if want("customer360"):
        customer_bench.customer360(results, rng=rng)
    if want("search"):
        customer_bench.search(results, rng=rng)
    if want("list_pages"):
        customer_bench.list_pages(results)
    if want("segment_refresh"):
        customer_bench.segment_refresh(results)
    if want("rfm"):
        quality_bench.rfm(results)
    if want("cleansing"):
        quality_bench.cleansing(results)
    if want("metrics"):
        quality_bench.metrics(results)
    if want("dedup"):
        quality_bench.dedup(results, scale=args.scale)
    if want("workbench"):
        interactions_bench.workbench(results, rng=rng)
    if want("reminder_sweep"):
        interactions_bench.reminder_sweep(results, scale=args.scale)
    if want("funnel"):
        from bench import opportunities as opportunities_bench

        opportunities_bench.measure(results, rng=rng)
    if want("import"):
        from bench import imports as import_bench

        import_bench.measure(results, scale=args.scale)
    if want("export"):
        from bench import exports as export_bench

        export_bench.export(results, scale=args.scale)
    results["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    latest = Path(args.output)
    latest.parent.mkdir(parents=True, exist_ok=True)
    if wanted and latest.exists():
        # A partial run updates its own figures in a file of the same scale and keeps the others.
        previous = json.loads(latest.read_text())
        if previous.get("scale") == args.scale:
            results = {**previous, **results}
    latest.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
