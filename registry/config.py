"""Settings read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_SQLITE_URL = "sqlite:///./data/registry.sqlite3"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    secret_key: str
    data_dir: Path
    token_minutes: int
    login_attempts_per_minute: int
    overlap_min_share: float = 0.01  # parcels overlapping by more than this share of either area are flagged

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        # SQLAlchemy's convention: three slashes then a relative path, four for an absolute one.
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(os.environ.get("COLLATERAL_DATA_DIR", "./data"))
    secret = os.environ.get("COLLATERAL_SECRET_KEY", "")
    if not secret:
        # A fixed development key would let anyone mint tokens for a deployment that forgot to set
        # one; a per-data-dir random key keeps sessions valid across restarts of one installation.
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file = data_dir / ".secret_key"
        if not key_file.exists():
            key_file.write_text(os.urandom(32).hex())
            key_file.chmod(0o600)
        secret = key_file.read_text().strip()
    return Settings(
        database_url=os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL),
        secret_key=secret,
        data_dir=data_dir,
        token_minutes=int(os.environ.get("COLLATERAL_TOKEN_MINUTES", "480")),
        login_attempts_per_minute=int(os.environ.get("COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE", "10")),
        overlap_min_share=_share("COLLATERAL_OVERLAP_MIN_SHARE", "0.01"),
    )


def _share(name: str, default: str) -> float:
    # Zero would flag the hair-thin slivers that two surveys of one shared boundary always leave.
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a ratio such as 0.01, not {text!r}") from None
    if not 0 < value < 1:
        raise ValueError(f"{name} must be more than 0 and less than 1, not {text!r}")
    return value
