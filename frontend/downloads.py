"""A list page's "Download CSV": the rows the page's filters keep, every page of them, in the page's order, with
cells a spreadsheet would run as a formula escaped (registry.downloads). Each list asks for it with
`format=csv` on its own URL, so the download carries exactly the filters on screen."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl
from litestar import Response
from litestar.response import Stream

from frontend.paging import PAGE_PARAMS
from registry.downloads import content_disposition, csv_safe_row, write_csv_text
from registry.schemas.common import Page, Paging

T = TypeVar("T")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# Rows read per query while a download is written: large enough to be few queries, small enough to stream.
BATCH = 1000
ListFormat = Literal["html", "csv"]


def csv_url(url: str, **extra: str) -> str:
    """The page's URL (its filters and sort) asking for the CSV instead; the page numbers are dropped."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if k not in {*PAGE_PARAMS, "format"}]
    params += [("format", "csv"), *extra.items()]
    return urlunsplit(("", "", parts.path, urlencode(params), ""))


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": content_disposition(filename)}


def _lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(csv_safe_row("" if v is None else v for v in row) for row in rows)
    return buffer.getvalue()


def frame_csv(filename: str, frame: pl.DataFrame) -> Response[bytes]:
    return Response(content=write_csv_text(frame).encode(), media_type=CSV_MEDIA_TYPE, headers=_attachment(filename))


async def every_page(fetch: Callable[[Paging], Awaitable[Page[T]]], size: int = BATCH) -> AsyncIterator[list[T]]:
    """The list's rows a batch at a time, through the same service call the page makes."""
    number = 1
    while True:
        found = await fetch(Paging(number, size))
        if found.items:
            yield found.items
        if not found.has_next:
            return
        number += 1


def csv_stream(
    filename: str,
    header: Sequence[str],
    batches: AsyncIterator[list[T]],
    row: Callable[[T], Sequence[Any]],
) -> Stream:
    """The CSV written while it is read, one batch of rows at a time, so a long list never sits in memory."""

    async def body() -> AsyncIterator[bytes]:
        yield _lines([header]).encode()
        async for items in batches:
            yield _lines(row(item) for item in items).encode()

    return Stream(body(), media_type=CSV_MEDIA_TYPE, headers=_attachment(filename))
