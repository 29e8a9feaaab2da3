"""`make bench [SCALE=N]`: measure what exists, write bench/results/latest.json (flat name → number).

Runs in a database of its own (`<name>_bench`), so the development data is never touched.
Figures are ratios against a baseline measured in the same run where the metric is a ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _bench_database() -> None:
    """Point DATABASE_URL at a fresh `<name>_bench`, so every run measures a load from empty."""
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/") + "_bench"
    admin = urlunsplit(url._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"/{name}"))


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", type=int, default=5000, help="customers to seed (default 5,000)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    _bench_database()
    import django

    django.setup()
    from django.core.management import call_command

    from crm_site.pagination import cursor_for
    from customers.models import Customer
    from customers.selectors import PAGE_SIZE, customer_list
    from org.models import User

    results: dict[str, float | int | str] = {"scale": args.scale}
    call_command("migrate", verbosity=0)

    started = time.perf_counter()
    call_command("seed_demo", customers=args.scale, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    results["seed_s"] = round(time.perf_counter() - started, 3)

    # Keyset pagination: the time of a deep page against page 1, same query, same user.
    viewer = User.objects.get(username="risk1")
    total = Customer.objects.count()
    target_page = 10_000 if total > 10_000 * PAGE_SIZE else max(2, total // PAGE_SIZE - 1)
    # The cursor of page N is the sort key of the last row of page N - 1.
    last_of_previous = Customer.objects.order_by("name", "id")[(target_page - 1) * PAGE_SIZE - 1]
    deep_cursor = cursor_for(last_of_previous, ("name", "id"))

    def timed(cursor):
        samples = []
        for _ in range(30):
            begin = time.perf_counter()
            customer_list(user=viewer, filters={}, cursor=cursor)
            samples.append((time.perf_counter() - begin) * 1000)
        return _p95(samples)

    first_ms, deep_ms = timed(None), timed(deep_cursor)
    key = "list_page_10000_ratio" if target_page == 10_000 else "list_page_deepest_ratio"
    results[key] = round(deep_ms / first_ms, 3)
    results["list_page_deepest"] = target_page
    results["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
