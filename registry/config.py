"""Settings read once from the environment."""

from __future__ import annotations

import os
import time
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
    # The audit chain's HMAC key: never in the database, so write access to it is not enough to re-forge the chain.
    audit_key: str = ""
    upload_max_rows: int = 2_000_000  # per uploaded file
    upload_max_bytes: int = 2 * 1024**3  # per uploaded file, decompressed (Parquet) or as sent (CSV)
    pg_pool_min: int = 2
    pg_pool_max: int = 10
    pg_statement_timeout_ms: int = 0  # 0: no limit

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
    # A fixed development key would let anyone mint tokens for a deployment that forgot to set one; a
    # per-data-dir random key keeps sessions valid across restarts of one installation.
    secret = os.environ.get("COLLATERAL_SECRET_KEY", "") or _key_file(data_dir / ".secret_key")
    # Separate from the token secret: rotating one must not touch the other.
    audit_key = os.environ.get("COLLATERAL_AUDIT_KEY", "") or _key_file(data_dir / ".audit_key")
    if len(audit_key) < 32:
        raise ValueError("COLLATERAL_AUDIT_KEY must be at least 32 characters (e.g. 64 hex digits)")
    return Settings(
        database_url=os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL),
        secret_key=secret,
        data_dir=data_dir,
        token_minutes=int(os.environ.get("COLLATERAL_TOKEN_MINUTES", "480")),
        login_attempts_per_minute=int(os.environ.get("COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE", "10")),
        overlap_min_share=_share("COLLATERAL_OVERLAP_MIN_SHARE", "0.01"),
        audit_key=audit_key,
        upload_max_rows=_count("COLLATERAL_UPLOAD_MAX_ROWS", 2_000_000, minimum=1),
        upload_max_bytes=_count("COLLATERAL_UPLOAD_MAX_BYTES", 2 * 1024**3, minimum=1),
        pg_pool_min=_count("COLLATERAL_PG_POOL_MIN", 2, minimum=0),
        pg_pool_max=_count("COLLATERAL_PG_POOL_MAX", 10, minimum=1),
        pg_statement_timeout_ms=_count("COLLATERAL_PG_STATEMENT_TIMEOUT_MS", 0, minimum=0),
    )


def _key_file(path: Path) -> str:
    """The random key kept in `path`, made on first use (mode 0600). Created exclusively, so two workers
    starting together agree on one key: the loser of the race reads the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(os.urandom(32).hex())
    for _ in range(50):  # the winner may not have written yet
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.01)
    raise ValueError(f"{path} is empty: delete it to have a new key made, or set the key in the environment")


def _count(name: str, default: int, *, minimum: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {text!r}")
    return value


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
