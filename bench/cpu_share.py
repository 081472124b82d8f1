"""Who used the CPU during a benchmark window: the server's processes, the load generator's, PostgreSQL's backends of
the benchmark's database, Redis, and the whole machine (busy share of all cores), read from /proc.

On a 2-core machine shared by the server, the database and the load generator, a throughput figure means little
without knowing which of them spent the cores: this says where the seconds went, so a limit can be named."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def process_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process (0 when it is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def descendants(pid: int) -> list[int]:
    """The process and every process under it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in (PROC / str(current) / "task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def _named(comm: str) -> list[tuple[int, str]]:
    out = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != comm:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append((int(entry.name), cmdline))
    return out


def postgres_backends(database: str) -> list[int]:
    """Backends connected to `database` (their title is `postgres: USER DATABASE HOST(PORT) STATE`)."""
    return [pid for pid, title in _named("postgres") if f" {database} " in f"{title} "]


def redis_servers() -> list[int]:
    return [pid for pid, _ in _named("redis-server")]


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat's first line."""
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return float(total - idle), float(total)


class CpuWindow:
    """Start, then stop: the CPU seconds each group of processes used in between, and the machine's busy share."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.started = {name: {pid: process_seconds(pid) for pid in pids} for name, pids in groups.items()}
        self.machine = machine_busy()

    def stop(self, wall_seconds: float) -> dict[str, object]:
        used = {
            name: round(sum(process_seconds(pid) - before for pid, before in self.started[name].items()), 2)
            for name in self.groups
        }
        busy, total = machine_busy()
        busy_share = (busy - self.machine[0]) / max(1.0, total - self.machine[1])
        cores = os.cpu_count() or 1
        return {
            "cpu_seconds": used,
            "cpu_share_of_all_cores": {name: round(s / (wall_seconds * cores), 3) for name, s in used.items()},
            "machine_busy_share": round(busy_share, 3),
            "wall_seconds": round(wall_seconds, 2),
        }
