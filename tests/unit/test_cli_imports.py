"""The command line starts at once: `collateral --help` imports only click and the command modules, and
`coverage --from` computes from files without the web framework, the ORM or the templates (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.books import small

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("litestar", "piccolo", "jinja2", "polars", "pyarrow", "asyncpg", "uvicorn", "shapely", "pyproj")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import app\nfrom click.testing import CliRunner\n"
        "r = CliRunner().invoke(app.build_cli(), ['--help'])\nassert r.exit_code == 0 and 'coverage' in r.output"
    )
    assert _modules_after(code) & set(HEAVY) == set()


def test_coverage_from_files_needs_no_web_framework_orm_or_templates(tmp_path: Path) -> None:
    book = small.write(tmp_path / "book")
    out = tmp_path / "c.csv"
    code = (
        "import app\nfrom click.testing import CliRunner\n"
        f"r = CliRunner().invoke(app.build_cli(), ['coverage', '--from', {str(book)!r}, '--as-of', '2026-01-31', "
        f"'--out', {str(out)!r}])\nassert r.exit_code == 0, r.output"
    )
    loaded = _modules_after(code)
    assert out.read_text().startswith("loan_id,")
    assert "polars" in loaded  # it did compute
    assert loaded & {"litestar", "piccolo", "jinja2"} == set()
    assert "scipy" not in loaded  # only a book past --loans-per-batch needs its components found
