"""The pages answer every error with the status the API gives it (registry.problems), as a page: a money
error, a unique violation, a value the database refuses and bad form input are never a 500 page."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest
from asyncpg.exceptions import DataError, UniqueViolationError

from registry.money import MoneyError
from registry.problems import problem_for
from registry.roles import Role

pytestmark = pytest.mark.integration


def refusing(exc: Exception) -> Any:
    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return refuse


@pytest.mark.parametrize(
    ("exc", "status", "shown"),
    [
        (MoneyError("CNY amounts have at most 2 decimal places"), 422, "at most 2 decimal places"),
        (sqlite3.IntegrityError("UNIQUE constraint failed: asset.ref"), 409, "already exists"),
        (UniqueViolationError('duplicate key value violates unique constraint "asset_ref_key"'), 409, "already exists"),
        (DataError("value out of range for type integer"), 422, "not acceptable"),
    ],
)
async def test_a_page_shows_the_apis_status(
    client: httpx.AsyncClient, as_role: Any, monkeypatch: pytest.MonkeyPatch, exc: Exception, status: int, shown: str
) -> None:
    problem = problem_for(exc)
    assert problem is not None and problem.status_code == status  # what the API answers
    monkeypatch.setattr("frontend.asset_pages.list_assets", refusing(exc))
    r = await client.get("/assets", headers=as_role(Role.AUDITOR))
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text and shown in r.text


async def test_an_error_the_api_does_not_know_is_a_500_page(
    client: httpx.AsyncClient, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("frontend.asset_pages.list_assets", refusing(sqlite3.IntegrityError("FOREIGN KEY failed")))
    r = await client.get("/assets", headers=as_role(Role.AUDITOR))
    assert r.status_code == 500
    assert "The server failed; nothing was changed." in r.text
    assert "FOREIGN KEY" not in r.text


async def test_bad_form_input_is_a_422_page(client: httpx.AsyncClient, as_role: Any) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    # A form that does not decode: the page number of the queue to come back to.
    r = await client.post("/valuations/1/reject?page=two", data={"reason": "wrong asset"}, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html") and "page" in r.text
    # A form that decodes but that a service refuses: the same 422 as the API, shown in place on the form.
    r = await client.post(
        "/coverage/stress",
        data={"by_kind[0].kind": "vehicle", "by_kind[0].change_pct": "minus ten"},
        headers=as_role(Role.CREDIT_OFFICER),
    )
    assert r.status_code == 422
    assert 'id="by_kind-0-change_pct-error"' in r.text
