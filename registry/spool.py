"""Uploaded files onto disk. Litestar spools each multipart file to a temporary file as it arrives (in
memory only below 1 MiB); this copies it to where the reader wants it in blocks, in a worker thread, so
neither the whole file in memory nor the copy on the event loop."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
from litestar.datastructures import UploadFile

_BLOCK = 1 << 20


async def save_upload(upload: UploadFile, target: Path) -> None:
    await upload.seek(0)

    def copy() -> None:
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, _BLOCK)

    await anyio.to_thread.run_sync(copy)
