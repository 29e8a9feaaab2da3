"""What `make run`, `make test` and `make bench` do after installing: one process that owns the others.

    python -m crm_site.devrun run            # servers, migrate, seed, web + worker + beat; Ctrl-C stops all
    python -m crm_site.devrun test [ARGS]    # servers, then pytest ARGS
    python -m crm_site.devrun bench [ARGS]   # servers, then the benchmarks
    python -m crm_site.devrun manage ARGS    # servers, then manage.py ARGS

With DATABASE_URL / REDIS_URL set, those servers are used; otherwise embedded ones start under var/
and are stopped again when this process ends (their data stays in var/ for the next run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from crm_site import devservers

PYTHON = sys.executable
HOST = os.environ.get("CRM_HOST", "127.0.0.1")
PORT = os.environ.get("CRM_PORT", "8000")


def _manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True, cwd=devservers.ROOT)  # noqa: S603


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def _wait_healthy(timeout: float = 60) -> None:
    """Print the banner once every part answers, so it is the last thing on the screen."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{PORT}/healthz/", timeout=3):  # noqa: S310
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)


def _stop_on_terminate() -> None:
    """SIGTERM/SIGHUP (a `kill`, a closed terminal, a supervisor) stop everything as Ctrl-C does."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def run() -> int:
    os.environ.setdefault("DJANGO_DEBUG", "true")
    _stop_on_terminate()
    started = devservers.ensure_environment()
    children: list[subprocess.Popen] = []
    try:
        _manage("migrate", "--noinput")
        _manage("seed_demo", "--customers", os.environ.get("DEMO_CUSTOMERS", "2000"), "--duplicates", "2%")
        # The nightly data-quality jobs once now, so the issue and duplicate queues and the dashboard have
        # something to show on a first start (both are idempotent: a restart changes nothing).
        for job in ("cleansing", "dedup"):
            subprocess.run([PYTHON, "manage.py", "run_job", job], check=True, cwd=devservers.ROOT,  # noqa: S603
                           stdout=subprocess.DEVNULL)
        common = {"cwd": devservers.ROOT}
        children.append(subprocess.Popen(  # noqa: S603
            [PYTHON, "-m", "celery", "-A", "crm_site", "worker", "--loglevel", "INFO", "--concurrency", "2"],
            **common))
        children.append(subprocess.Popen(  # noqa: S603
            [PYTHON, "-m", "celery", "-A", "crm_site", "beat", "--loglevel", "INFO",
             "--pidfile", str(devservers.VAR / "celerybeat.pid")], **common))
        children.append(subprocess.Popen(  # noqa: S603
            [PYTHON, "manage.py", "runserver", f"{HOST}:{PORT}"], **common))
        _wait_healthy()
        _say("")
        _say(f"  Branch CRM is running on http://{HOST}:{PORT}/   (Ctrl-C stops everything)")
        _say(f"  Sign in as admin, rm1, rm2, manager1, risk1, service1, marketing1, ops1 or auditor1;"
             f" password {os.environ.get('DEMO_PASSWORD', 'crm-demo-2026')}")
        _say(f"  Health: http://{HOST}:{PORT}/healthz/   Admin: http://{HOST}:{PORT}/admin/")
        _say("")
        while all(child.poll() is None for child in children):
            time.sleep(1)
        _say("a process stopped; stopping the others")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if started:
            devservers.stop(tuple(started))


def run_with_servers(command: list[str], *, redis_db: int = 0) -> int:
    os.environ.setdefault("DJANGO_DEBUG", "true")
    _stop_on_terminate()
    embedded_redis = not os.environ.get("REDIS_URL")
    started = devservers.ensure_environment()
    if redis_db and embedded_redis:
        # A database of its own on the embedded Redis, so a `make run` worker never answers the
        # tests' pings or takes their tasks.
        os.environ["REDIS_URL"] = devservers.redis_url().rsplit("/", 1)[0] + f"/{redis_db}"
    try:
        return subprocess.run(command, cwd=devservers.ROOT, check=False).returncode  # noqa: S603
    except KeyboardInterrupt:
        return 130
    finally:
        if started:
            devservers.stop(tuple(started))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        _say(__doc__ or "")
        return 2
    command, rest = argv[1], argv[2:]
    if command == "run":
        return run()
    if command == "test":
        # Tests use their own queue so a `make run` worker on the same Redis never takes their tasks.
        os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"crm-test-{os.getpid()}")
        return run_with_servers([PYTHON, "-m", "pytest", *rest], redis_db=1)
    if command == "bench":
        return run_with_servers([PYTHON, "-m", "bench", *rest])
    if command == "manage":
        return run_with_servers([PYTHON, "manage.py", *rest])
    _say(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
