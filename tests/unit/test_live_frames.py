"""The live feed's frames are encoded once when published; they must be what Litestar's own encoder writes, and a
subscriber must get back the bid's id to drop what it already replayed."""

from __future__ import annotations

import json

import pytest
from litestar.response.sse import ServerSentEventMessage

from auctions import live

pytestmark = pytest.mark.unit


def test_frames_match_the_frameworks_encoding() -> None:
    data = json.dumps({"event": "bid", "id": 7, "amount": "630000.00", "alias": "bidder 1"})
    assert live.sse_frame("bid", data, 7) == ServerSentEventMessage(event="bid", id="7", data=data).encode()
    assert (
        live.sse_frame("status", '{"status": "sold"}')
        == ServerSentEventMessage(event="status", data='{"status": "sold"}').encode()
    )
    assert ServerSentEventMessage(comment="keepalive", data=None).encode() == live.KEEPALIVE


def test_a_published_message_carries_the_bid_id_its_seq_and_the_frame() -> None:
    bid = {"event": "bid", "id": 42, "amount": "1.00"}
    assert live.read_published(live.published(bid, 7)) == (42, 7, live.sse_frame("bid", json.dumps(bid), 42))
    status = {"event": "status", "status": "failed", "ends_at": "2026-12-01T00:00:00Z"}
    assert live.read_published(live.published(status, 3)) == (0, 0, live.sse_frame("status", json.dumps(status)))


def test_a_round_s_channel_names_its_database_and_never_its_url(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Redis Pub/Sub channels are shared by every client of a Redis server: two installations (or a test run and a
    benchmark) must not hear each other's round 1."""
    from registry.config import get_settings

    monkeypatch.setenv("COLLATERAL_DATA_DIR", str(tmp_path))
    names = {}
    try:
        for url in ("postgresql://bank:s3cret@db/one", "postgresql://bank:s3cret@db/two", "sqlite:///x.sqlite"):
            monkeypatch.setenv("DATABASE_URL", url)
            get_settings.cache_clear()
            names[url] = live.channel(1)
            assert live.channel(1) == names[url] != live.channel(2)
            assert "s3cret" not in names[url]
            assert "one" not in names[url]
    finally:
        get_settings.cache_clear()
    assert len(set(names.values())) == 3
