"""Helpers for the HTTP edge tests: an app built under other settings, a client for any app, a fresh login."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from registry.config import get_settings
from registry.edge_settings import edge_settings


def app_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """An app created under these environment settings. No lifespan: the session app already holds the database
    (and its PostgreSQL pool), which this app's queries use."""
    from app import create_app

    with monkeypatch.context() as patched:
        for name, value in env.items():
            patched.setenv(name, value)
        get_settings.cache_clear()
        edge_settings.cache_clear()
        try:
            return create_app(round_sweep_seconds=0)
        finally:
            get_settings.cache_clear()
            edge_settings.cache_clear()


@asynccontextmanager
async def client_for(app: Any, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as c:
        yield c


def fresh_token(app: Any, username: str, role: str) -> str:
    """A token of this test's own: logging it out must not revoke the session's shared ones."""
    token: str = app.state.jwt_auth.create_token(identifier=username, token_extras={"role": role})
    return token
