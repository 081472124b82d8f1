"""The user documentation is self-contained: it works offline and inside the repository alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_and_docs_link_nothing_outside_the_repository() -> None:
    """Offline and self-contained (issue 14): no web address and no path above the repository in the user docs."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        links = re.findall(r"\]\(([^)]+)\)", text)
        assert not [x for x in links if x.startswith(("http:", "https:", "../", "/"))], path.name
        addresses = re.findall(r"https?://[^\s)`'\"]+", text)
        assert not [a for a in addresses if not re.match(r"https?://(127\.0\.0\.1|localhost|[\w.-]*example)", a)], (
            path.name
        )
