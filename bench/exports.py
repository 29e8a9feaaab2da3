"""Export benchmarks: the customer list exported through its view, consumed to the last byte like a client.

Each export runs in a child process of its own (`python -m bench.exports child FORMAT [LIMIT]`), as a
web worker would serve it, so its peak memory (`export_peak_rss_mb`, measured through bench/peak.py) is
the export's alone. The exporter is `marketing1`, a head-office role with the export
permission and without the reveal permission, who sees every customer: the whole bank, masked.

- `export_rows_per_s`, `export_peak_rss_mb`: CSV of every customer (1M at SCALE=1000000).
- `export_peak_rss_100k_mb`: the same export stopped after 100,000 rows (the client closes the
  download), so the two peaks show whether memory grows with the rows (it should not).
- `export_xlsx_rows_per_s`, `export_xlsx_peak_rss_mb`: the same list as XLSX (context: XlsxWriter is
  pure Python and several times slower than CSV). A workbook is written by a worker
  (reports/exports.py): the child records the export as the list's button does and runs the worker's
  `export_build` itself, then downloads the file through the export's page; the seconds cover both.
  The export record and its file are deleted afterwards.

Each export appends its audit entry to the bench database (the audit trail is append-only by
design); nothing else is written.

Run alone against the bench database (under `flock /tmp/bench.lock` at 1M):
`DATABASE_URL=postgres://…/crm python -m bench.exports` (it appends `_bench`, like `python -m bench --reuse`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORTER = "marketing1"


def _child(fmt: str, limit: int = 0) -> dict:
    """Run one export in a child process: rows, seconds (request to last byte) and peak RSS in MB."""
    from bench.peak import run

    with tempfile.TemporaryFile() as output:
        measured = run([sys.executable, "-m", "bench.exports", "child", fmt, str(limit)], cwd=ROOT, stdout=output)
        if measured.exit_code != 0:
            raise RuntimeError(f"export child ({fmt}) failed with status {measured.exit_code}")
        output.seek(0)
        figures = json.loads(output.read())
    figures["peak_rss_mb"] = measured.peak_rss_mb
    return figures


def export(results: dict, *, scale: int) -> None:
    full = _child("csv")
    results["export_rows"] = full["rows"]
    results["export_rows_per_s"] = round(full["rows"] / full["seconds"])
    results["export_s"] = round(full["seconds"], 3)
    results["export_peak_rss_mb"] = full["peak_rss_mb"]
    if full["rows"] > 100_000:
        part = _child("csv", 100_000)
        results["export_peak_rss_100k_mb"] = part["peak_rss_mb"]
    xlsx = _child("xlsx")
    results["export_xlsx_rows_per_s"] = round(xlsx["rows"] / xlsx["seconds"])
    results["export_xlsx_peak_rss_mb"] = xlsx["peak_rss_mb"]


def _serve(fmt: str, limit: int) -> dict:
    """In the child: one export through the view, read chunk by chunk as a client reads a download."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    django.setup()
    from django.conf import settings
    from django.test import Client

    from org.models import User

    settings.DEBUG = False
    client = Client(HTTP_HOST="localhost")  # outside the test runner ALLOWED_HOSTS applies
    client.force_login(User.objects.get(username=EXPORTER))
    begin = time.perf_counter()
    if fmt == "xlsx":
        return _serve_xlsx(client, begin)
    response = client.get("/customers/export/", {"format": fmt})
    if response.status_code != 200:
        raise RuntimeError(f"export answered {response.status_code}")
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
        if limit and lines - 1 >= limit:
            break
    response.close()
    return {"rows": lines - 1, "seconds": time.perf_counter() - begin, "bytes": size}


def _serve_xlsx(client, begin: float) -> dict:
    """The worker's half (export_build) in this process, then the download through the export's page."""
    from org.models import User
    from reports import exports
    from reports.models import ExportJob

    job = ExportJob.objects.create(kind="customers", params={}, language="zh-hans",
                                   created_by=User.objects.get(username=EXPORTER))
    try:
        job = exports.export_build(job.pk)
        if job.status != ExportJob.Status.READY:
            raise RuntimeError(f"export ended {job.status}: {job.error}")
        response = client.get(f"/exports/{job.pk}/download/")
        if response.status_code != 200:
            raise RuntimeError(f"download answered {response.status_code}")
        size = sum(len(chunk) for chunk in response.streaming_content)
        response.close()
        return {"rows": job.rows_total, "seconds": time.perf_counter() - begin, "bytes": size}
    finally:
        job.refresh_from_db()
        if job.file:
            job.file.delete(save=False)
        job.delete()


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        print(json.dumps(_serve(argv[1], int(argv[2]))))
        return 0
    from bench.__main__ import _bench_database

    _bench_database(fresh=False)
    results: dict = {}
    export(results, scale=0)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
