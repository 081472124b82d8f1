"""The audit key and the operations settings read by registry.config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.config import get_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("COLLATERAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COLLATERAL_AUDIT_KEY", raising=False)
    get_settings.cache_clear()
    try:
        yield monkeypatch
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_audit_key_is_generated_apart_from_the_token_secret(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.delenv("COLLATERAL_SECRET_KEY", raising=False)
    settings = get_settings()
    key_file = tmp_path / ".audit_key"
    assert key_file.read_text() == settings.audit_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert settings.audit_key != settings.secret_key == (tmp_path / ".secret_key").read_text()
    get_settings.cache_clear()
    assert get_settings().audit_key == settings.audit_key  # kept across restarts


def test_the_audit_key_from_the_environment_wins_and_must_be_long(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.setenv("COLLATERAL_AUDIT_KEY", "a" * 32)
    assert get_settings().audit_key == "a" * 32
    assert not (tmp_path / ".audit_key").exists()
    fresh.setenv("COLLATERAL_AUDIT_KEY", "short")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="at least 32 characters"):
        get_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COLLATERAL_PG_POOL_MAX", "0"),
        ("COLLATERAL_PG_STATEMENT_TIMEOUT_MS", "-1"),
        ("COLLATERAL_UPLOAD_MAX_ROWS", "x"),
    ],
)
def test_counts_must_be_whole_numbers_in_range(fresh: pytest.MonkeyPatch, name: str, value: str) -> None:
    fresh.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        get_settings()


def test_operations_settings_default(fresh: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert (settings.pg_pool_min, settings.pg_pool_max, settings.pg_statement_timeout_ms) == (2, 10, 0)
    assert (settings.upload_max_rows, settings.upload_max_bytes) == (2_000_000, 2 * 1024**3)
