"""Process timing and the machine's description for bench/import.py (and its peer)."""

from __future__ import annotations

import os
import platform
import re
import shlex
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"


@dataclass
class Run:
    command: str
    seconds: float
    peak_rss_mib: float
    exit_code: int
    timed_out: bool
    stdout: str
    stderr: str


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def measured(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> Run:
    """Run cmd to completion; its wall time and its own peak RSS (wait4 on that one child)."""
    out_path, err_path = DATA / ".run.stdout", DATA / ".run.stderr"
    DATA.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            child.kill()

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    return Run(
        shlex.join(cmd),
        round(seconds, 3),
        round(usage.ru_maxrss / 1024, 1),
        child.returncode,
        expired.is_set(),
        stdout,
        stderr,
    )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    kib = int(total.group(1)) if total else None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_kib": kib,
        "memory_gib": round(kib / 1024**2, 1) if kib else None,
        "platform": platform.platform(),
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
    }


def versions(psql: list[str], pg_env: dict[str, str] | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "polars": pl.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        import numpy

        found["numpy"] = numpy.__version__
    except ImportError:
        pass
    if pg_env is not None:
        server = subprocess.run(
            [*psql, "-tAc", "SHOW server_version"], capture_output=True, text=True, check=False, env=pg_env
        )
        if server.returncode == 0:
            found["postgresql"] = server.stdout.strip()
    return found
