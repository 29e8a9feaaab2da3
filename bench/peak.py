"""Peak memory of a benchmark's child process, without the bench process's own memory in it.

`os.wait4()`'s ru_maxrss is not the child's alone: Linux records the old address space's high-water mark when a
process calls exec, and a child started from the bench process (fork or vfork, then exec) starts out with the
bench's pages. An export run from a bench process that had reached 334 MB reported 334 MB whatever it used.
`run()` therefore starts the command through this module as a small launcher
(`python -m bench.peak OUT COMMAND…`, about 10 MB): the command starts from the launcher's pages, and the
launcher writes the command's ru_maxrss to OUT (its forked shards included: wait4 counts waited descendants).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    exit_code: int
    peak_rss_mb: float


def run(command: list[str], *, cwd: Path, env: dict | None = None, stdout=None) -> Measured:
    """Run `command` to its end through the launcher; stdout as subprocess takes it (None: inherited)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        completed = subprocess.run([sys.executable, "-m", "bench.peak", out.name, *command], cwd=cwd,
                                   env=env if env is not None else os.environ.copy(), stdout=stdout, check=False)
        figures = json.loads(Path(out.name).read_text() or "{}")
    return Measured(exit_code=completed.returncode, peak_rss_mb=round(figures.get("maxrss_kb", 0) / 1024, 1))


def _launch(out: str, command: list[str]) -> int:
    child = subprocess.Popen(command)  # noqa: S603 - the bench's own commands
    _pid, status, usage = os.wait4(child.pid, 0)
    Path(out).write_text(json.dumps({"maxrss_kb": usage.ru_maxrss}))  # Linux reports KiB
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1], sys.argv[2:]))
