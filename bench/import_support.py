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


def _line(name: str, run: str, r: dict[str, Any], target: str = "") -> None:
    rate = f"{r['rows_per_second']:,}" if r["rows_per_second"] else "-"
    if r["timed_out"]:
        target = f"timed out, killed ({target})"
    print(
        f"{name:<9} {run:<9} {r['exit_code']:>4} {r['seconds']:>9.2f} {rate:>11} {r['peak_rss_mib']:>9,.0f}  {target}"
    )


def print_table(book: dict[str, Any], results: dict[str, Any], targets: dict[str, Any]) -> None:
    print(f"\nbook {book['dir']}: {book['total_rows']:,} rows, {book['bytes'] / 2**20:,.1f} MiB")
    header = f"{'engine':<9} {'run':<9} {'exit':>4} {'seconds':>9} {'rows/s':>11} {'peak MiB':>9}  target"
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        if "import" not in result:
            print(f"{name:<9} {'-':<9} {result.get('skipped') or result.get('error')}")
            continue
        for i, r in enumerate(result["import_runs"]):
            if i < len(result["peer_runs"]):
                _line(name, f"peer {i + 1}", result["peer_runs"][i], "plain COPY into bare text tables")
            _line(name, f"import {i + 1}", r, f"<= {targets[f'{name}_import_seconds']} s")
        for run in ("reimport", "refused"):
            _line(name, run, result[run])
        if "ratio_import_over_peer" in result:
            print(
                f"{'':<9} median import / median peer: {result['ratio_import_over_peer']}x "
                f"(per run {result['ratio_per_run']}; target <= {targets['postgres_import_over_copy_peer']}x)"
            )
        steps = sorted(result["import"]["steps"].items(), key=lambda kv: -kv[1])
        print(f"{'':<9} slowest steps of the median import: " + ", ".join(f"{k} {v:.1f}" for k, v in steps[:8]))
        checks = {k: v for k, v in result["checks"].items() if not k.startswith("counts")}
        print(f"{'':<9} checks: " + ", ".join(f"{k}={v}" for k, v in checks.items()))
        if result["checks"]["refused_non_zero"] and result["refused"]["stderr_tail"]:
            print(f"{'':<9} refusal said: {result['refused']['stderr_tail'].splitlines()[-1][:110]}")
