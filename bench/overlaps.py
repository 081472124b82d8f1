"""Full overlap scan of a generated registry of parcels, with planted overlaps whose answer is known.

    .venv/bin/python bench/overlaps.py [--parcels 200000] [--seed 20261128] [--min-share 0.01] [--database]

The registry is city blocks of rectangular parcels (eight vertices each: corners and edge midpoints)
that tile each block exactly, so every parcel touches its neighbours along edges and at corners, with
streets between blocks, around 31°N. Into blocks of their own (one plant per block, so their answers
cannot interfere) it plants:

- overlaps that must be found: exact duplicates, parcels nested inside another, parcels straddling
  the line between two neighbours (two pairs each), parcels reaching from a block edge into the street;
- contacts that must not be reported: slivers overlapping a parcel by 0.1-0.5% of either area, and
  parcels in the street touching a block along an edge or at a single corner.

The scan is what `collateral parcels rescan` runs on the stored GeoJSON texts: parse them all, one
STRtree, one bulk query, vectorised intersections (registry.parcel_geometry.find_overlaps). With --database
it also stores the parcels as asset rows of a temporary SQLite registry and times the rescan service
itself (reading the rows, scanning, replacing the overlap rows, one audit event). It prints the
figures and writes bench/results/overlaps.json with the machine it ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.parcel_geometry import DEFAULT_MIN_SHARE, find_overlaps, parse_many  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "overlaps.json"
LON0, LAT0 = 121.0, 31.0
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))
COLS, ROWS, STREET_M = 10, 4, 50.0
GRID_ANGLE = math.radians(23.0)
TARGET_SECONDS = 10.0

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in metres


class Registry:
    """The generated parcels as rectangles in metres, and the pairs a correct scan reports."""

    def __init__(self, parcels: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        per_kind = max(1, parcels // 1000)
        plan = ["duplicate", "nested", "straddle", "street"] * (per_kind * 5 // 4) + (
            ["sliver"] * (per_kind * 3) + ["edge"] * per_kind + ["corner"] * per_kind
        )
        base = parcels - len(plan)
        blocks = math.ceil(base / (COLS * ROWS))
        side = math.ceil(math.sqrt(blocks))
        if blocks - 1 < len(plan):
            raise SystemExit(f"--parcels {parcels} is too few for {len(plan)} plants")
        widths = rng.uniform(20, 60, size=(side, COLS))
        heights = rng.uniform(25, 50, size=(side, ROWS))
        # Edges come from cumulative sums shared by neighbours, so shared edges are bit-for-bit equal.
        x_edges = np.concatenate([np.zeros((side, 1)), np.cumsum(widths, axis=1)], axis=1)
        y_edges = np.concatenate([np.zeros((side, 1)), np.cumsum(heights, axis=1)], axis=1)
        x_start = np.concatenate([[0.0], np.cumsum(x_edges[:, -1] + STREET_M)[:-1]])
        y_start = np.concatenate([[0.0], np.cumsum(y_edges[:, -1] + STREET_M)[:-1]])
        self.rects: list[Rect] = []
        self.kind: list[str] = []
        self.block_cells: list[list[int]] = []
        for block in range(blocks):
            bx, by = divmod(block, side)
            xs, ys = x_start[bx] + x_edges[bx], y_start[by] + y_edges[by]
            cells = []
            for r in range(ROWS):
                for c in range(COLS):
                    if len(self.rects) < base:
                        cells.append(len(self.rects))
                        self.rects.append((xs[c], ys[r], xs[c + 1], ys[r + 1]))
                        self.kind.append("base")
            self.block_cells.append(cells)
        self.expected: set[tuple[int, int]] = set()
        self.expected_share: dict[tuple[int, int], float] = {}
        chosen = rng.choice(blocks - 1, size=len(plan), replace=False)  # the last block may be partial
        for kind, block in zip(plan, chosen, strict=True):
            self._plant(kind, self.block_cells[int(block)], rng)

    def _cell(self, cells: list[int], row: int, col: int) -> int:
        return cells[row * COLS + col]

    def _add(self, kind: str, rect: Rect, over: list[int]) -> None:
        new = len(self.rects)
        self.rects.append(rect)
        self.kind.append(kind)
        for other in over:
            share = _share(rect, self.rects[other])
            assert share > 0.02, (kind, share)  # well clear of the threshold, so the answer is unambiguous
            pair = (min(new, other), max(new, other))
            self.expected.add(pair)
            self.expected_share[pair] = share

    def _plant(self, kind: str, cells: list[int], rng: np.random.Generator) -> None:
        row, col = int(rng.integers(ROWS)), int(rng.integers(COLS - 1))
        top = self._cell(cells, ROWS - 1, col)
        x0, y0, x1, y1 = self.rects[self._cell(cells, row, col)]
        w, h = x1 - x0, y1 - y0
        tx0, _ty0, tx1, ty1 = self.rects[top]
        if kind == "duplicate":
            self._add(kind, (x0, y0, x1, y1), [self._cell(cells, row, col)])
        elif kind == "nested":
            fw, fh = rng.uniform(0.4, 0.9, size=2)
            nx, ny = x0 + rng.uniform(0.01, 0.99 - fw) * w, y0 + rng.uniform(0.01, 0.99 - fh) * h
            self._add(kind, (nx, ny, nx + fw * w, ny + fh * h), [self._cell(cells, row, col)])
        elif kind == "straddle":
            right = self._cell(cells, row, col + 1)
            rw = self.rects[right][2] - self.rects[right][0]
            a, b = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * rw
            self._add(kind, (x1 - a, y0 + 0.1 * h, x1 + b, y1 - 0.1 * h), [self._cell(cells, row, col), right])
        elif kind == "street":
            depth = rng.uniform(0.2, 0.8) * (ty1 - self.rects[top][1])
            tw = tx1 - tx0
            self._add(kind, (tx0 + 0.1 * tw, ty1 - depth, tx1 - 0.1 * tw, ty1 + 0.8 * STREET_M), [top])
        elif kind == "sliver":
            # Reaches into the parcel by 0.1-0.5% of its height; its own height is the same, so the
            # shared strip is the same small share of both.
            d = rng.uniform(0.001, 0.005) * (ty1 - self.rects[top][1])
            self._add(kind, (tx0, ty1 - d, tx1, ty1 - d + 0.9 * STREET_M), [])
        elif kind == "edge":
            self._add(kind, (tx0, ty1, tx1, ty1 + 0.5 * STREET_M), [])
        elif kind == "corner":
            self._add(kind, (tx1, ty1, tx1 + 20.0, ty1 + 20.0), [])

    def geojson_texts(self) -> np.ndarray:
        """The parcels as the registry stores them: GeoJSON polygons in lon/lat."""
        r = np.asarray(self.rects)
        x0, y0, x1, y1 = r[:, 0], r[:, 1], r[:, 2], r[:, 3]
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        xs = np.stack([x0, xm, x1, x1, x1, xm, x0, x0, x0], axis=1)
        ys = np.stack([y0, y0, y0, ym, y1, y1, y1, ym, y0], axis=1)
        # The city's grid runs at an angle to the meridians, as most do: no parcel's edges are
        # north-south, so bounding boxes of neighbours overlap and cannot settle a pair on their own.
        cos_t, sin_t = math.cos(GRID_ANGLE), math.sin(GRID_ANGLE)
        east, north = xs * cos_t - ys * sin_t, xs * sin_t + ys * cos_t
        coords = np.stack([LON0 + east / M_PER_DEG_LON, LAT0 + north / M_PER_DEG_LAT], axis=2)
        return np.asarray(shapely.to_geojson(shapely.polygons(coords)), dtype=object)


def _share(a: Rect, b: Rect) -> float:
    """The larger of the two shares of the rectangles' overlap, on the local metric plane."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    area = w * h
    return max(area / ((a[2] - a[0]) * (a[3] - a[1])), area / ((b[2] - b[0]) * (b[3] - b[1])))


def machine() -> dict[str, object]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024**2, 1)
    # Other work on the machine slows the scan; the load when the run started says how busy it was.
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": memory_gib,
        "load_average_1m": load,
        "python": platform.python_version(),
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "pyproj": pyproj.__version__,
        "numpy": np.__version__,
    }


def _status_mib(field: str) -> float | None:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def peak_rss_mib() -> float:
    """The process's peak resident memory since start or since reset_peak()."""
    hwm = _status_mib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    # Linux: writing 5 to clear_refs resets the peak (VmHWM) to the current resident size, so the
    # scan's own peak is measured rather than the generator's.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def database_rescan(
    texts: np.ndarray, ids: np.ndarray, min_share: float, folder: Path, before_rescan: Any
) -> dict[str, object]:
    """The same parcels as asset rows of a fresh SQLite registry, then the `collateral parcels rescan` service.

    Rows are written straight into the file with their measures (setting up is not timed); the rescan
    reads them back, scans, replaces the overlap rows and writes its audit event, in one transaction.
    """
    import asyncio
    import sqlite3

    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["COLLATERAL_DATA_DIR"] = str(folder / "data")
    os.environ["COLLATERAL_SECRET_KEY"] = "bench-secret-key-of-at-least-32-bytes"
    os.environ["COLLATERAL_OVERLAP_MIN_SHARE"] = repr(min_share)
    from registry.cli_support import migrate_database
    from registry.services.parcel_overlaps import measure_columns, rescan

    asyncio.run(migrate_database())
    now = str(dt.datetime.now(dt.UTC))
    with sqlite3.connect(folder / "bench.sqlite3") as db:
        db.execute(
            "INSERT INTO party (id, ref, name, kind, status, created_at) VALUES (1, 'P1', 'Owner', "
            "'company', 'normal', ?)",
            (now,),
        )
        rows = []
        for asset_id, text in zip(ids, texts, strict=True):
            m = measure_columns(text)
            rows.append((int(asset_id), f"A{asset_id:07d}", text, *m.values(), now))
        columns = ", ".join(m)
        db.executemany(
            f"INSERT INTO asset (id, ref, kind, owner, description, address, identifiers, geometry, {columns}, "
            f"status, created_at) VALUES (?, ?, 'land_use_right', 1, '', '', '{{}}', ?, {', '.join('?' * len(m))}, "
            "'active', ?)",
            rows,
        )

    async def run() -> tuple[float, set[tuple[int, int]]]:
        from registry.tables import ParcelOverlap

        report = await rescan("bench")
        pairs = await ParcelOverlap.select(ParcelOverlap.asset_a, ParcelOverlap.asset_b)
        return report.seconds, {(p["asset_a"], p["asset_b"]) for p in pairs}

    before_rescan()
    seconds, stored = asyncio.run(run())
    return {"seconds": seconds, "stored_pairs": stored}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--min-share", type=float, default=DEFAULT_MIN_SHARE)
    parser.add_argument(
        "--database",
        action="store_true",
        help="also time the rescan service over the same parcels stored in a temporary SQLite file",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    registry = Registry(args.parcels, args.seed)
    texts = registry.geojson_texts()
    # Ids in a shuffled order, as a registry's ids would be, unrelated to where parcels lie.
    ids = np.random.default_rng(args.seed + 1).permutation(len(texts)) + 1
    generated = time.perf_counter() - started
    rss_before = _status_mib("VmRSS") or peak_rss_mib()
    reset_peak()

    t0 = time.perf_counter()
    geoms = parse_many(list(texts))
    t1 = time.perf_counter()
    found = find_overlaps(ids, geoms, args.min_share)
    t2 = time.perf_counter()
    rss_after = peak_rss_mib()

    index_of = {int(i): n for n, i in enumerate(ids)}
    reported = {(min(index_of[o.a], index_of[o.b]), max(index_of[o.a], index_of[o.b])) for o in found}
    missed = registry.expected - reported
    false_positive = reported - registry.expected
    kinds = Counter(registry.kind)
    by_plant = Counter(registry.kind[max(pair)] for pair in false_positive)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parcels": len(texts),
        "seed": args.seed,
        "min_share": args.min_share,
        "plants": {k: v for k, v in sorted(kinds.items()) if k != "base"},
        "planted_overlaps": len(registry.expected),
        "found": len(registry.expected & reported),
        "missed": len(missed),
        "reported": len(found),
        "false_positives": len(false_positive),
        "false_positives_by_plant": dict(by_plant),
        "seconds": {
            "parse": round(t1 - t0, 3),
            "scan": round(t2 - t1, 3),
            "total": round(t2 - t0, 3),
            "generate": round(generated, 3),
        },
        "rss_mib": {"resident_before_scan": round(rss_before, 1), "peak_during_scan": round(rss_after, 1)},
        "target_seconds": TARGET_SECONDS,
    }
    ok = not missed and not false_positive and t2 - t0 <= TARGET_SECONDS
    if args.database:
        with tempfile.TemporaryDirectory(prefix="bench-overlaps-") as folder:
            db = database_rescan(texts, ids, args.min_share, Path(folder), reset_peak)
        expected_ids = {tuple(sorted((int(ids[a]), int(ids[b])))) for a, b in registry.expected}
        stored: set[tuple[int, int]] = db["stored_pairs"]  # type: ignore[assignment]
        result["database_rescan"] = {
            "engine": "sqlite",
            "seconds": db["seconds"],
            "stored_pairs": len(stored),
            "missed": len(expected_ids - stored),
            "false_positives": len(stored - expected_ids),
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }
        ok = ok and stored == expected_ids
    result["meets_targets"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    print(f"{result['parcels']} parcels, seed {args.seed}, threshold {args.min_share:.2%} of either area")
    print(f"machine: {m['nproc']} x {m['cpu_model']}, {m['memory_gib']} GiB, load average {m['load_average_1m']}")
    print(
        f"scan: parse {t1 - t0:.2f} s + overlaps {t2 - t1:.2f} s = {t2 - t0:.2f} s (target <= {TARGET_SECONDS:.0f} s)"
    )
    print(
        f"peak memory (RSS) during the scan: {rss_after:.0f} MiB ({rss_before:.0f} MiB resident before it, "
        "the generated registry included)"
    )
    print(
        f"planted overlaps: {len(registry.expected)}; found {result['found']}, missed {len(missed)}; "
        f"reported {len(found)}, false positives {len(false_positive)} {dict(by_plant) or ''}"
    )
    print(f"plants: {result['plants']}")
    if "database_rescan" in result:
        d = result["database_rescan"]
        print(
            f"rescan service on SQLite: {d['seconds']:.2f} s (read, scan, write {d['stored_pairs']} pairs, audit); "
            f"missed {d['missed']}, false positives {d['false_positives']}; peak RSS {d['peak_rss_mib']:.0f} MiB"
        )
    print(f"{'meets' if ok else 'MISSES'} the targets; written to {args.out.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
