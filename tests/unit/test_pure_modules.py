"""The pure modules stay pure: each imports neither Litestar nor Piccolo, so it runs on plain data.

Each module is imported in a fresh interpreter, since in this one the app is likely loaded already.
The auction rules are picked up as they are written (every module under auctions.rules).
"""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

FRAMEWORKS = ("litestar", "piccolo")
PURE_MODULES = [
    "registry.money",
    "registry.ledger_rules",
    "registry.ranking",
    "registry.registration",
    "registry.geometry",
    "registry.parcel_geometry",
]
PURE_PACKAGES = ["valuation.coverage", "auctions.rules"]


def _modules_of(package: str) -> list[str]:
    spec = importlib.util.find_spec(package)  # imports the parent, which exists; auctions.rules may not yet
    if spec is None or not spec.submodule_search_locations:
        return []
    found = pkgutil.walk_packages(spec.submodule_search_locations, prefix=f"{package}.")
    return [package, *sorted(info.name for info in found)]


def _pure_modules() -> list[str]:
    return PURE_MODULES + [m for package in PURE_PACKAGES for m in _modules_of(package)]


@pytest.mark.parametrize("module", _pure_modules())
def test_imports_no_framework(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        f"loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} pulls in {done.stdout.strip()}"


def test_the_coverage_engine_is_found() -> None:
    # Guards the walk itself: an empty list would make the test above pass for nothing.
    assert "valuation.coverage.engine" in _pure_modules()
