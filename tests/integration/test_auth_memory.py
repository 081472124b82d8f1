"""What a worker remembers between a bidder's requests (registry.auth): the token's user for a moment, and that a
token's signature was checked. Neither may outlive what it stands for: a revoked token is refused at once, an
expired one as soon as it expires, an inactive user once the moment has passed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from registry import auth
from registry.roles import Role
from registry.services import users as user_service
from registry.tables import AppUser

pytestmark = pytest.mark.integration


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = user_service.active_user

    async def counted(username: str) -> Any:
        reads.append(username)
        return await real(username)

    monkeypatch.setattr(auth, "active_user", counted)
    return reads


async def _fresh_token(app: Any, username: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.jwt_auth.create_token(identifier=username, **kwargs)}"}


async def test_a_token_s_user_is_read_once_for_a_burst_and_every_time_without_the_memory(
    client, app, users, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counting_reads(monkeypatch)
    headers = await _fresh_token(app, "bidder1")
    for _ in range(5):
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert reads == ["bidder1"]
    monkeypatch.setenv("COLLATERAL_USER_CACHE_SECONDS", "0")
    headers = await _fresh_token(app, "bidder1")
    for _ in range(3):
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert reads == ["bidder1"] * 4


async def test_an_inactive_user_is_refused_once_the_moment_has_passed(client, app, users, monkeypatch) -> None:
    monkeypatch.setenv("COLLATERAL_USER_CACHE_SECONDS", "0.3")
    await user_service.create_user("fleeting", "fleeting-password", Role.BIDDER, "test")
    try:
        headers = await _fresh_token(app, "fleeting")
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
        await AppUser.update({AppUser.active: False}).where(AppUser.username == "fleeting")
        await asyncio.sleep(0.4)
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
    finally:
        await AppUser.delete().where(AppUser.username == "fleeting")


async def test_a_remembered_token_is_refused_at_once_after_logout(client, app, users) -> None:
    headers = await _fresh_token(app, "bidder1")
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_a_remembered_token_is_refused_once_expired_and_a_changed_one_never_passes(client, app, users) -> None:
    headers = await _fresh_token(app, "bidder1", token_expiration=timedelta(seconds=2))
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert any(key[0] == headers["Authorization"][7:] for key in auth._DECODED)
    token = headers["Authorization"]
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    assert (await client.get("/api/auth/me", headers={"Authorization": forged})).status_code == 401
    await asyncio.sleep(3.1)
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
