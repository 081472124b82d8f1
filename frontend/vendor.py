"""Copies the pinned front-end packages from node_modules into the static folder.

`scripts/setup` runs `npm ci` and then `python -m frontend.vendor`. The pages load every script
from /static, never from a CDN, so the copy is part of setting up, and the copied files are
generated (frontend/static/vendor/ is gitignored).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"

# (file inside node_modules, name under /static/vendor/)
VENDORED = (
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    # Chart.js's UMD build: one file that sets window.Chart, loaded only by the coverage pages.
    ("chart.js/dist/chart.umd.min.js", "chart.umd.min.js"),
    # Leaflet draws the parcel maps as vectors, with no tile server unless COLLATERAL_MAP_TILE_URL names one.
    ("leaflet/dist/leaflet.js", "leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet.css"),
    # Swagger UI for /schema/swagger, served from here so the API's own documentation works offline.
    ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"),
    ("swagger-ui-dist/swagger-ui-standalone-preset.js", "swagger-ui-standalone-preset.js"),
    ("swagger-ui-dist/swagger-ui.css", "swagger-ui.css"),
    ("swagger-ui-dist/favicon-32x32.png", "swagger-favicon-32x32.png"),
)


class MissingPackageError(Exception):
    pass


def copy_vendor_files(node_modules: Path = NODE_MODULES, vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Copy each vendored file; raise MissingPackageError naming what is absent and how to get it."""
    if not node_modules.is_dir():
        raise MissingPackageError(f"{node_modules} does not exist: run `npm ci --ignore-scripts` first")
    missing = [source for source, _ in VENDORED if not (node_modules / source).is_file()]
    if missing:
        raise MissingPackageError(
            f"missing in {node_modules}: {', '.join(missing)}; run `npm ci --ignore-scripts` (package-lock.json)"
        )
    vendor_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for source, name in VENDORED:
        target = vendor_dir / name
        shutil.copyfile(node_modules / source, target)
        copied.append(target)
    return copied


def main() -> int:
    try:
        copied = copy_vendor_files()
    except MissingPackageError as exc:
        print(f"frontend.vendor: {exc}", file=sys.stderr)
        return 1
    for path in copied:
        print(f"frontend.vendor: copied {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
