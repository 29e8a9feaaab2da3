"""A real Celery worker process for tests, consuming the test queue with the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
from django.db import connection

from crm_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`python -m celery worker` with one prefork child, started and stopped by a fixture."""

    def __init__(self, *, extra_modules: str = "tests.reports.slow_job") -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.extra_modules = extra_modules
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / "var" / "log" / f"test-worker-{os.getpid()}.log"

    def start(self) -> Worker:
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": _test_database_url(),
            "CELERY_EXTRA_TASK_MODULES": self.extra_modules,
            "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
            "DJANGO_DEBUG": "true",
        })
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - stays open for the worker's lifetime
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crm_site", "worker", "--loglevel", "INFO",
             "--pool", "prefork", "--concurrency", "1", "-n", self.name,
             "-Q", celery_app.conf.task_default_queue, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}")
            if celery_app.control.ping(timeout=0.5):
                return
            time.sleep(0.5)
        raise RuntimeError(f"worker did not answer a ping in {timeout}s; see {self.log_path}")

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=False)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
