"""Loading one bench script from another: import.py and coverage.py cannot be imported by name (a keyword, and
the name of coverage.py, the tool), so they are loaded from their files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent


def load(filename: str, name: str) -> ModuleType:
    """bench/<filename> as the module `name` (registered in sys.modules: dataclasses resolve annotations there)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / filename)
    if spec is None or spec.loader is None:
        raise SystemExit(f"bench/{filename} not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
