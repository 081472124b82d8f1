"""Uploads are parsed off the event loop and bounded (issue 13, defect 2): a large file being parsed does not
stall other requests, and a file over the row or size bound is refused with 413 before it is read."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import polars as pl
import pytest

import registry.bulk.pipeline as pipeline
import valuation.services.uploads as valuation_uploads
from registry.bulk import limits
from registry.config import get_settings
from registry.roles import Role
from registry.tables import Party
from valuation.tables import Valuation

pytestmark = pytest.mark.integration

VALUATION_HEADER = "asset_id,valued_on,market_value,currency,method,appraiser"


def _parties_csv(n: int) -> bytes:
    return ("party_id,name,kind\n" + "".join(f"P{i},Party {i},company\n" for i in range(n))).encode()


def _valuations_csv(n: int) -> bytes:
    return (VALUATION_HEADER + "\n" + "".join(f"X{i},2026-01-01,100.00,CNY,desktop,Desk\n" for i in range(n))).encode()


UPLOADS: dict[str, tuple[str, Any, Role, Callable[[int], bytes], str]] = {
    # endpoint: (url, module whose read_book_file parses it, role, content of n rows, multipart file name)
    "imports": ("/api/imports", pipeline, Role.ADMIN, _parties_csv, "parties.csv"),
    "valuations": ("/api/valuations/uploads", valuation_uploads, Role.ASSET_MANAGER, _valuations_csv, "v.csv"),
}


@pytest.mark.parametrize("endpoint", sorted(UPLOADS))
async def test_health_answers_while_an_upload_is_parsed(
    client, as_role, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    url, module, role, content, filename = UPLOADS[endpoint]
    started, release, parsed = threading.Event(), threading.Event(), threading.Event()
    real = module.read_book_file

    def held_open(*args: Any, **kwargs: Any) -> Any:
        # Parsing pauses here until /health has answered. If it ran on the event loop, the loop would stand
        # still here until the wait gave up, and /health could only answer after the parse had finished.
        started.set()
        release.wait(timeout=60)
        try:
            return real(*args, **kwargs)
        finally:
            parsed.set()

    monkeypatch.setattr(module, "read_book_file", held_open)
    upload = asyncio.create_task(client.post(url, files={"file": (filename, content(50_000))}, headers=as_role(role)))
    assert await anyio.to_thread.run_sync(started.wait, 60), "the upload never started parsing"
    health = await client.get("/health")
    assert health.status_code == 200
    answered_while_parsing = not parsed.is_set()
    release.set()
    response = await upload
    assert answered_while_parsing, "/health waited for the upload's parse: it ran on the event loop"
    assert response.status_code in (201, 422), response.text  # parties load; valuations name unknown assets
    if endpoint == "imports":
        assert await Party.count() == 50_000


def _valuations_parquet(rows: int) -> bytes:
    frame = pl.select(
        pl.repeat("A1", rows, eager=True).alias("asset_id"),
        pl.repeat("2026-01-01", rows, eager=True).alias("valued_on"),
        pl.repeat("100.00", rows, eager=True).alias("market_value"),
        pl.repeat("CNY", rows, eager=True).alias("currency"),
        pl.repeat("desktop", rows, eager=True).alias("method"),
        pl.repeat("Desk", rows, eager=True).alias("appraiser"),
    )
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd")
    return out.getvalue()


@pytest.mark.parametrize(
    ("url", "role", "filename", "named"),
    [
        ("/api/valuations/uploads", Role.ASSET_MANAGER, "valuations.parquet", "valuations.parquet"),
        ("/api/imports", Role.ADMIN, "valuations.parquet", "valuations"),
    ],
)
async def test_a_parquet_over_the_row_bound_is_refused_unread(
    client, as_role, monkeypatch: pytest.MonkeyPatch, url: str, role: Role, filename: str, named: str
) -> None:
    bound = get_settings().upload_max_rows
    assert bound == 2_000_000  # the default
    content = _valuations_parquet(bound + 1)
    assert len(content) < 1_000_000  # small on the wire, millions of rows inside

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was read although its metadata is over the bound")

    monkeypatch.setattr(pl, "read_parquet", never)
    r = await client.post(url, files={"file": (filename, content)}, headers=as_role(role))
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["file"] == named
    assert (problem["bound"], problem["limit"]) == ("rows", bound)
    assert named in problem["detail"] and "2,000,000" in problem["detail"]
    assert await Valuation.count() == 0


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    bounded = dataclasses.replace(get_settings(), upload_max_rows=10, upload_max_bytes=4096)
    monkeypatch.setattr(limits, "get_settings", lambda: bounded)


async def test_a_csv_over_the_row_bound_is_refused(client, as_role, small_bounds: None) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    files = {"file": ("many.csv", _valuations_csv(11))}
    r = await client.post("/api/valuations/uploads", files=files, headers=manager)
    assert r.status_code == 413, r.text
    assert r.json()["file"] == "many.csv" and r.json()["limit"] == 10
    # At the bound it is read (and refused only for its unknown assets).
    r = await client.post("/api/valuations/uploads", files={"file": ("ten.csv", _valuations_csv(10))}, headers=manager)
    assert r.status_code == 422 and r.json()["error_count"] == 10


async def test_a_file_over_the_size_bound_and_a_compressed_csv_are_refused(
    client, as_role, small_bounds: None, tmp_path: Path
) -> None:
    admin = as_role(Role.ADMIN)
    wide = ("party_id,name,kind\n" + f"P1,{'x' * 5000},company\n").encode()
    r = await client.post("/api/imports", files={"file": ("parties.csv", wide)}, headers=admin)
    assert r.status_code == 413, r.text
    assert r.json()["bound"] == "bytes once decompressed" and r.json()["file"] == "parties"
    packed = gzip.compress(_parties_csv(3))
    r = await client.post("/api/imports", files={"file": ("parties.csv", packed)}, headers=admin)
    assert r.status_code == 422, r.text
    assert "compressed" in r.text
    assert await Party.count() == 0
