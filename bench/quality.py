"""Scoring and data-quality benchmarks: the RFM and cleansing jobs end to end, each in a process of its own.

Each job runs as `manage.py run_job NAME` in a child process (as a worker would run it), so its wall
time includes Django start-up (about a second) and its peak memory (`rfm_peak_rss_mb`, measured through
bench/peak.py) is the job's alone, not the bench process's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_job(name: str, *params: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `manage.py run_job NAME --param …` in a child process."""
    command = [sys.executable, "manage.py", "run_job", name]
    for param in params:
        command += ["--param", param]
    from bench.peak import run

    begin = time.perf_counter()
    measured = run(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - begin
    if measured.exit_code != 0:
        raise RuntimeError(f"run_job {name} failed with status {measured.exit_code}")
    return elapsed, measured.peak_rss_mb


def rfm(results: dict) -> None:
    """rfm_s, rfm_peak_rss_mb, and the sizes they were measured at (customers, transactions in the window)."""
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(occurred_at) FROM customers_transaction")
        latest = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM customers_transaction")
        results["rfm_transactions"] = cursor.fetchone()[0]
    as_of = timezone.localtime(latest).date() if latest else timezone.localdate()
    elapsed, peak = _run_job("rfm", f"as_of={as_of:%Y-%m-%d}", "window_days=365")
    results["rfm_s"] = round(elapsed, 3)
    results["rfm_peak_rss_mb"] = round(peak, 1)
    from customers.models import RfmRun

    results["rfm_customers"] = RfmRun.objects.get(as_of=as_of).customers_scored


def cleansing(results: dict) -> None:
    """cleansing_s: the whole cleansing job (name normalisation, SQL findings, chunked ID checks, the day's
    snapshot) from cold.

    On a database without issues (the bench database) the issues and snapshots it wrote are removed
    afterwards (TRUNCATE: no row-audit entry per removed issue), so the next measurement starts alike.
    """
    from django.db import connection

    from customers.models import DataQualityIssue, DataQualitySnapshot

    had_issues = DataQualityIssue.objects.exists()
    had_snapshots = DataQualitySnapshot.objects.exists()
    elapsed, peak = _run_job("cleansing")
    results["cleansing_s"] = round(elapsed, 3)
    results["cleansing_peak_rss_mb"] = round(peak, 1)
    results["cleansing_open_issues"] = DataQualityIssue.objects.filter(status="open").count()
    with connection.cursor() as cursor:
        if not had_issues:
            cursor.execute("TRUNCATE customers_dataqualityissue")
        if not had_snapshots:
            cursor.execute("TRUNCATE customers_dataqualitysnapshot")


def metrics(results: dict) -> None:
    """quality_metrics_s: the dashboard's figures per branch for a viewer who sees the whole bank."""
    from customers.quality import quality_metrics
    from org.models import User

    viewer = User.objects.get(username="risk1")
    begin = time.perf_counter()
    quality_metrics(user=viewer, group_by="branch")
    results["quality_metrics_s"] = round(time.perf_counter() - begin, 3)


def dedup_accuracy() -> dict:
    """Precision and recall of the open candidates against the planted pairs (seed_demo --duplicates)."""
    from customers.dedup import THRESHOLD
    from customers.demo_duplicates import planted_pairs, variant_of
    from customers.models import Customer, DuplicateCandidate

    truth = {(low, high): (number, kind) for low, high, number, kind in planted_pairs()}
    found = set(DuplicateCandidate.objects.filter(score__gte=THRESHOLD).values_list("low_id", "high_id"))
    hits = found & truth.keys()
    per_variant: dict[str, list[int]] = {}
    for pair, (number, kind) in truth.items():
        variant = variant_of(number, corporate=kind == Customer.Kind.CORPORATE)
        per_variant.setdefault(variant, [0, 0])
        per_variant[variant][0] += pair in hits
        per_variant[variant][1] += 1
    return {
        "planted": len(truth), "proposed": len(found), "true_positives": len(hits),
        "precision": round(len(hits) / len(found), 4) if found else 0.0,
        "recall": round(len(hits) / len(truth), 4) if truth else 0.0,
        "recall_per_variant": {name: round(hit / total, 4) for name, (hit, total) in sorted(per_variant.items())},
    }


def dedup(results: dict, *, scale: int) -> None:
    """dedup_s (the whole job in a child process), dedup_precision and dedup_recall on the planted pairs.

    The planted duplicates (seed_demo --duplicates 2%) stay; the candidates the run wrote are removed
    afterwards when the table was empty before, so the database is left as it was found (apart from
    the run's JobRun row and its one audit entry: the audit trail is append-only).
    """
    from customers.demo_duplicates import plant_duplicates
    from customers.models import DuplicateCandidate

    # A database seeded without --duplicates (the 1M one) gets its planted pairs now, once.
    plant_duplicates(count=scale, share=0.02)
    had_candidates = DuplicateCandidate.objects.exists()
    elapsed, peak = _run_job("dedup")
    results["dedup_s"] = round(elapsed, 3)
    results["dedup_peak_rss_mb"] = round(peak, 1)
    accuracy = dedup_accuracy()
    results["dedup_precision"] = accuracy["precision"]
    results["dedup_recall"] = accuracy["recall"]
    results["dedup_planted"] = accuracy["planted"]
    results["dedup_proposed"] = accuracy["proposed"]
    for variant, recall in accuracy["recall_per_variant"].items():
        results[f"dedup_recall_{variant}"] = recall
    if not had_candidates:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE customers_duplicatecandidate")
