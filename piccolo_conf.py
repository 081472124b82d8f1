"""Piccolo configuration: the engine comes from DATABASE_URL (SQLite file under ./data when unset)."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from registry.config import get_settings

_settings = get_settings()

DB: SQLiteEngine | PostgresEngine
if _settings.is_sqlite:
    _settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    DB = SQLiteEngine(path=str(_settings.sqlite_path), timeout=30)
else:
    DB = PostgresEngine(config={"dsn": _settings.database_url})

APP_REGISTRY = AppRegistry(apps=["registry.piccolo_app", "valuation.piccolo_app", "auctions.piccolo_app"])
