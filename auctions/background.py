"""The service's own closing sweep: rounds close at their end even when nobody reads them. Every worker runs
one; a close is idempotent under the case's lock, so two workers sweeping at once close a round once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.channels import ChannelsPlugin

from auctions import live
from auctions.services.closing import sweep

log = logging.getLogger(__name__)


def sweep_seconds() -> float:
    return float(os.environ.get("COLLATERAL_ROUND_SWEEP_SECONDS", "1"))


async def _sweep_forever(every: float, channels: ChannelsPlugin | None) -> None:
    live.bind(channels)  # closes announce themselves on this app's channels
    while True:
        try:
            await sweep()
        except Exception:  # a failed pass is logged and retried; the sweep must outlive one bad moment
            log.exception("round closing sweep failed")
        await asyncio.sleep(every)


@asynccontextmanager
async def round_sweeper(app: Litestar) -> AsyncIterator[None]:
    chosen = app.state.get("round_sweep_seconds")
    every = sweep_seconds() if chosen is None else float(chosen)
    channels = app.plugins.get(ChannelsPlugin)
    task = asyncio.create_task(_sweep_forever(every, channels)) if every > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
