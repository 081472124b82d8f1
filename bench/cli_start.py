"""How long the command line takes to start: `collateral --help` as a whole process, several times.

    python bench/cli_start.py [--runs 10]

Prints best and median seconds and writes bench/results/cli_start.json with the machine. Target (issue 11, this
2-core machine): `collateral --help` <= 0.3 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "cli_start.json"
TARGET_S = 0.3


def _bench_import() -> Any:
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    bi = _bench_import()
    command = [bi._collateral(), "--help"]
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    figures = {"best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3), "runs": args.runs}
    result = {
        "command": "collateral --help",
        "figures": figures,
        "target_s": TARGET_S,
        "met": figures["median_s"] <= TARGET_S,
        "machine": bi.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    met = "met" if result["met"] else "MISSED"
    print(f"collateral --help: best {figures['best_s']} s, median {figures['median_s']} s; target {TARGET_S} s {met}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
