"""Parcels through the API on both engines: measures, double-pledge flags, rescan, region and point queries,
comparables, and bad geometry refused with nothing written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.config import get_settings
from registry.roles import Role
from registry.tables import Asset, AuditEvent, ParcelOverlap
from tests.conftest import ENGINE
from tests.integration.factory import Book
from valuation.tables import Valuation

pytestmark = pytest.mark.integration

LON0, LAT0 = 121.4737, 31.2304
M_LAT = 111_320.0
M_LON = M_LAT * math.cos(math.radians(LAT0))


def rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """A GeoJSON rectangle given in metres east and north of a point in Shanghai."""
    w, e, s, n = LON0 + x0 / M_LON, LON0 + x1 / M_LON, LAT0 + y0 / M_LAT, LAT0 + y1 / M_LAT
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.party("P2")
    return b


async def detail(client: httpx.AsyncClient, as_role: Any, ref: str) -> dict[str, Any]:
    r = await client.get(f"/api/assets/{ref}", headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 200, r.text
    return r.json()


async def overlaps(client: httpx.AsyncClient, as_role: Any, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/registry/overlaps", params=params, headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    return r.json()


async def test_parcel_is_measured_geodesically_on_create(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 50))
    asset = await detail(client, as_role, "A1")
    parcel = asset["parcel"]
    assert parcel["area_m2"] == pytest.approx(5000, rel=5e-3)
    assert parcel["perimeter_m"] == pytest.approx(300, rel=5e-3)
    assert parcel["centroid_lon"] == pytest.approx(LON0 + 50 / M_LON)
    assert parcel["centroid_lat"] == pytest.approx(LAT0 + 25 / M_LAT)
    assert parcel["bbox"] == pytest.approx([LON0, LAT0, LON0 + 100 / M_LON, LAT0 + 50 / M_LAT])
    assert asset["overlaps"] == []
    await book.asset("V1", kind="vehicle")
    assert (await detail(client, as_role, "V1"))["parcel"] is None


async def test_partly_overlapping_parcels_flag_both_assets(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", owner="P2", kind="land_use_right", geometry=rect(70, 0, 270, 100))
    a1, a2 = await detail(client, as_role, "A1"), await detail(client, as_role, "A2")
    (line1,) = a1["overlaps"]
    (line2,) = a2["overlaps"]
    assert line1["other_ref"] == "A2"
    assert line1["other_owner_ref"] == "P2"
    assert line1["flag"] == "possible double pledge"
    assert float(line1["share_of_this"]) == pytest.approx(0.30, rel=1e-3)
    assert float(line1["share_of_other"]) == pytest.approx(0.15, rel=1e-3)
    assert line1["overlap_area_m2"] == pytest.approx(3000, rel=5e-3)
    assert line2["other_ref"] == "A1"
    assert line2["share_of_this"] == line1["share_of_other"]
    listed = await overlaps(client, as_role)
    assert listed["total"] == 1
    (pair,) = listed["items"]
    assert (pair["asset_a"]["ref"], pair["asset_b"]["ref"]) == ("A1", "A2")
    assert pair["asset_b"]["owner_name"] == "Party P2"
    assert pair["share_of_a"] == line1["share_of_this"]
    assert (await overlaps(client, as_role, asset_ref="A2"))["total"] == 1
    # The second parcel's creation found the overlap, and that is on the record of the asset.
    events = await AuditEvent.select().where(AuditEvent.action == "parcel_overlaps")
    assert [(e["entity_ref"], json.loads(e["after"])) for e in events] == [
        ("A2", {"possible_double_pledge_with": ["A1"]})
    ]


async def test_nested_and_duplicate_parcels_are_flagged(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", geometry=rect(20, 20, 70, 70))
    await book.asset("A3", owner="P2", geometry=rect(0, 0, 100, 100))
    a2 = await detail(client, as_role, "A2")
    assert {o["other_ref"]: float(o["share_of_this"]) for o in a2["overlaps"]} == {
        "A1": pytest.approx(1.0),
        "A3": pytest.approx(1.0),
    }
    a1 = await detail(client, as_role, "A1")
    # Largest share of this parcel first: all of it under A3, a quarter under A2.
    assert [(o["other_ref"], round(float(o["share_of_this"]), 3)) for o in a1["overlaps"]] == [
        ("A3", 1.0),
        ("A2", 0.25),
    ]
    assert (await overlaps(client, as_role))["total"] == 3


async def test_edge_and_corner_contact_and_slivers_under_the_threshold_are_not_flagged(
    client, as_role, book: Book
) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("EDGE", geometry=rect(100, 0, 200, 100))
    await book.asset("CORNER", geometry=rect(100, 100, 150, 150))
    await book.asset("HALF-EDGE", geometry=rect(-60, 20, 0, 60))
    await book.asset("SLIVER", geometry=rect(0, 99.5, 100, 199.5))  # 0.5% of each
    assert (await overlaps(client, as_role))["total"] == 0
    for ref in ("A1", "EDGE", "CORNER", "HALF-EDGE", "SLIVER"):
        assert (await detail(client, as_role, ref))["overlaps"] == []
    # Just over the threshold is flagged.
    await book.asset("WIDER", geometry=rect(0, 98.5, 100, 198.5))  # 1.5% of A1
    assert {o["other_ref"] for o in (await detail(client, as_role, "WIDER"))["overlaps"]} >= {"A1"}


async def test_multipolygon_parcel_overlaps_through_either_part(client, as_role, book: Book) -> None:
    estate = {
        "type": "MultiPolygon",
        "coordinates": [rect(0, 0, 50, 50)["coordinates"], rect(200, 0, 250, 50)["coordinates"]],
    }
    await book.asset("ESTATE", geometry=estate)
    await book.asset("INSIDE", geometry=rect(210, 10, 240, 40))
    (line,) = (await detail(client, as_role, "ESTATE"))["overlaps"]
    assert line["other_ref"] == "INSIDE"
    assert float(line["share_of_this"]) == pytest.approx(900 / 5000, rel=1e-3)


async def test_moving_releasing_and_removing_a_parcel_updates_its_flags(client, as_role, book: Book) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", geometry=rect(50, 0, 150, 100))
    first = (await overlaps(client, as_role))["items"][0]["detected_at"]

    r = await client.patch("/api/assets/A2", json={"geometry": rect(100, 0, 200, 100)}, headers=manager)
    assert r.status_code == 200, r.text
    assert (await overlaps(client, as_role))["total"] == 0
    assert (await detail(client, as_role, "A2"))["parcel"]["centroid_lon"] == pytest.approx(LON0 + 150 / M_LON)

    await client.patch("/api/assets/A2", json={"geometry": rect(50, 0, 150, 100)}, headers=manager)
    assert (await overlaps(client, as_role))["total"] == 1
    # Released collateral pledges nothing, so it cannot be pledged twice; back in the book, it is flagged again.
    await client.patch("/api/assets/A1", json={"status": "released"}, headers=manager)
    assert (await overlaps(client, as_role))["total"] == 0
    await client.patch("/api/assets/A1", json={"status": "active"}, headers=manager)
    assert (await overlaps(client, as_role))["total"] == 1
    # Changing the description leaves the flag (and when it was first seen) alone.
    await client.patch("/api/assets/A1", json={"description": "re-surveyed"}, headers=manager)
    assert (await overlaps(client, as_role))["items"][0]["detected_at"] >= first

    r = await client.patch("/api/assets/A2", json={"geometry": None}, headers=manager)
    assert r.status_code == 200
    a2 = await detail(client, as_role, "A2")
    assert a2["parcel"] is None
    assert a2["overlaps"] == []
    assert (await overlaps(client, as_role))["total"] == 0
    row = await Asset.select(Asset.centroid_lon, Asset.bbox_min_lon).where(Asset.ref == "A2").first()
    assert row == {"centroid_lon": None, "bbox_min_lon": None}
    moves = (
        await AuditEvent.select(AuditEvent.entity_ref, AuditEvent.after)
        .where(AuditEvent.action == "parcel_overlaps")
        .order_by(AuditEvent.seq)
    )
    assert [json.loads(m["after"])["possible_double_pledge_with"] for m in moves] == [
        ["A1"],
        [],
        ["A1"],
        [],
        ["A2"],
        [],
    ]


BAD_GEOMETRY = [
    (
        {"type": "Polygon", "coordinates": [[[121, 31], [121.001, 31.001], [121.001, 31], [121, 31.001], [121, 31]]]},
        "Self-intersection",
    ),
    (
        {"type": "Polygon", "coordinates": [[[121, 31], [121.001, 31], [121.001, 31.001], [121, 31.001]]]},
        "must be closed",
    ),
    (
        {"type": "Polygon", "coordinates": [[[181, 31], [181.001, 31], [181.001, 31.001], [181, 31]]]},
        "outside longitude",
    ),
    (
        {"type": "Polygon", "coordinates": [[[121, 91], [121.001, 91], [121.001, 91.001], [121, 91]]]},
        "outside longitude",
    ),
    ({"type": "Polygon", "coordinates": []}, "empty"),
    ({"type": "MultiPolygon", "coordinates": [[]]}, "empty"),
    ({"type": "Point", "coordinates": [121, 31]}, "Polygon or MultiPolygon"),
]


@pytest.mark.parametrize(("geometry", "reason"), BAD_GEOMETRY)
async def test_bad_geometry_is_422_with_the_reason_and_nothing_written(
    client, as_role, book: Book, geometry: dict[str, Any], reason: str
) -> None:
    events = await AuditEvent.count()
    manager = as_role(Role.ASSET_MANAGER)
    r = await client.post(
        "/api/assets",
        json={"ref": "BAD", "kind": "real_estate", "owner_ref": "P1", "geometry": geometry},
        headers=manager,
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["errors"][0]["field"] == "geometry"
    assert reason.lower() in problem["errors"][0]["reason"].lower()
    assert await Asset.count().where(Asset.ref == "BAD") == 0
    assert await AuditEvent.count() == events
    await book.asset("A1", geometry=rect(0, 0, 10, 10))
    events = await AuditEvent.count()
    r = await client.patch("/api/assets/A1", json={"geometry": geometry}, headers=manager)
    assert r.status_code == 422
    assert (await detail(client, as_role, "A1"))["geometry"] == rect(0, 0, 10, 10)
    assert await AuditEvent.count() == events


async def test_a_parcel_on_a_vehicle_is_422_and_nothing_written(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    events = await AuditEvent.count()
    r = await client.post(
        "/api/assets",
        json={"ref": "CAR", "kind": "vehicle", "owner_ref": "P1", "geometry": rect(0, 0, 100, 100)},
        headers=as_role(Role.ASSET_MANAGER),
    )
    assert r.status_code == 422
    assert "only real_estate and land_use_right" in r.json()["errors"][0]["reason"]
    assert await Asset.count().where(Asset.ref == "CAR") == 0
    assert await ParcelOverlap.count() == 0
    assert await AuditEvent.count() == events


async def test_rescan_rebuilds_every_flag_and_writes_one_audit_event(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", geometry=rect(50, 50, 150, 150))
    await book.asset("A3", geometry=rect(300, 0, 400, 100))
    kept = (await overlaps(client, as_role))["items"][0]["detected_at"]
    # As if written by a path that kept no measures and found no overlaps (e.g. rows older than this feature).
    a3 = await Asset.select(Asset.id).where(Asset.ref == "A3").first()
    await Asset.update({Asset.parcel_area_m2: None, Asset.bbox_min_lon: None}).where(Asset.id == a3["id"])
    await Asset.update({Asset.geometry: json.dumps(rect(350, 50, 450, 150))}).where(Asset.id == a3["id"])
    await book.asset("A4", geometry=rect(380, 80, 480, 180))  # misses A3: A3 has no box to be found by
    assert (await overlaps(client, as_role))["total"] == 1

    assert (await client.post("/api/registry/overlaps/rescan", headers=as_role(Role.CREDIT_OFFICER))).status_code == 403
    events = await AuditEvent.count()
    r = await client.post("/api/registry/overlaps/rescan", headers=as_role(Role.ASSET_MANAGER))
    assert r.status_code == 200, r.text
    report = r.json()
    assert {k: report[k] for k in ("parcels", "measured", "overlaps", "added", "removed", "min_share")} == {
        "parcels": 4,
        "measured": 1,
        "overlaps": 2,
        "added": 1,
        "removed": 0,
        "min_share": "0.010000",
    }
    assert await AuditEvent.count() == events + 1
    event = await AuditEvent.select().order_by(AuditEvent.seq, ascending=False).first()
    assert (event["entity"], event["action"], event["actor"]) == ("parcel_overlap", "rescan", "asset_manager1")
    assert json.loads(event["after"])["overlaps"] == 2
    listed = await overlaps(client, as_role)
    assert {(p["asset_a"]["ref"], p["asset_b"]["ref"]) for p in listed["items"]} == {("A1", "A2"), ("A3", "A4")}
    # A pair found again keeps the time it was first detected.
    assert next(p for p in listed["items"] if p["asset_a"]["ref"] == "A1")["detected_at"] == kept
    assert (await detail(client, as_role, "A3"))["parcel"]["area_m2"] == pytest.approx(10_000, rel=5e-3)


async def test_threshold_comes_from_the_environment(client, as_role, book: Book, monkeypatch) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("SLIVER", geometry=rect(0, 99.5, 100, 199.5))  # 0.5% of each
    assert (await overlaps(client, as_role))["total"] == 0
    monkeypatch.setenv("COLLATERAL_OVERLAP_MIN_SHARE", "0.004")
    get_settings.cache_clear()
    try:
        report = (await client.post("/api/registry/overlaps/rescan", headers=as_role(Role.ADMIN))).json()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert report["overlaps"] == 1
    assert report["min_share"] == "0.004000"


async def test_assets_in_a_region(client, as_role, book: Book) -> None:
    await book.asset("INSIDE", geometry=rect(10, 10, 20, 20))
    await book.asset("STRADDLE", geometry=rect(90, 10, 130, 20))
    await book.asset("TOUCHING", geometry=rect(100, 50, 120, 60))
    await book.asset("FAR", geometry=rect(5000, 5000, 5010, 5010))
    await book.asset("CAR", kind="vehicle")
    region = rect(0, 0, 100, 100)
    reader = as_role(Role.DISPOSAL_OFFICER)

    async def refs(**body: Any) -> list[str]:
        r = await client.post("/api/registry/parcels/in-region", json={"region": region, **body}, headers=reader)
        assert r.status_code == 200, r.text
        return [hit["ref"] for hit in r.json()["items"]]

    assert await refs() == ["INSIDE", "STRADDLE"]
    assert await refs(match="within") == ["INSIDE"]
    assert await refs(match="centroid") == ["INSIDE"]
    assert await refs(kind="land_use_right") == []
    assert await refs(status="active", match="intersects") == ["INSIDE", "STRADDLE"]
    hit = (await client.post("/api/registry/parcels/in-region", json={"region": region}, headers=reader)).json()
    assert hit["items"][0]["area_m2"] == pytest.approx(100, rel=5e-3)
    assert hit["items"][0]["possible_double_pledge"] is False
    bad = await client.post("/api/registry/parcels/in-region", json={"region": BAD_GEOMETRY[0][0]}, headers=reader)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "region"
    assert "Self-intersection" in bad.json()["errors"][0]["reason"]
    junk = await client.post(
        "/api/registry/parcels/in-region", json={"region": region, "match": "near"}, headers=reader
    )
    assert junk.status_code == 422


async def test_assets_near_a_point_nearest_first(client, as_role, book: Book) -> None:
    await book.asset("NEAR", geometry=rect(90, -10, 110, 10))  # centroid 100 m east
    await book.asset("MID", geometry=rect(-10, 290, 10, 310))  # 300 m north
    await book.asset("FAR", geometry=rect(1990, -10, 2010, 10))  # 2 km east
    await book.asset("OTHER-KIND", kind="land_use_right", geometry=rect(40, -10, 60, 10))
    reader = as_role(Role.CREDIT_OFFICER)
    r = await client.get(
        "/api/registry/parcels/near",
        params={"lon": LON0, "lat": LAT0, "radius_m": 500, "kind": "real_estate"},
        headers=reader,
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["ref"] for i in items] == ["NEAR", "MID"]
    assert items[0]["distance_m"] == pytest.approx(100, rel=5e-3)
    assert items[1]["distance_m"] == pytest.approx(300, rel=5e-3)
    everything = (
        await client.get(
            "/api/registry/parcels/near", params={"lon": LON0, "lat": LAT0, "radius_m": 5000}, headers=reader
        )
    ).json()
    assert [i["ref"] for i in everything["items"]] == ["OTHER-KIND", "NEAR", "MID", "FAR"]
    for params in (
        {"lon": LON0, "lat": 91, "radius_m": 10},
        {"lon": 200, "lat": LAT0, "radius_m": 10},
        {"lon": LON0, "lat": LAT0, "radius_m": 0},
        {"lon": LON0, "lat": LAT0, "radius_m": 10**7},
        {"lon": "nan", "lat": LAT0, "radius_m": 10},
        {"lat": LAT0, "radius_m": 10},
    ):
        bad = await client.get("/api/registry/parcels/near", params=params, headers=reader)
        assert bad.status_code == 422, (params, bad.text)


async def _valuation(asset: str, valued_on: date, value: int, status: str = "approved") -> None:
    row = await Asset.select(Asset.id).where(Asset.ref == asset).first()
    await Valuation.insert(
        Valuation(
            asset=row["id"],
            valued_on=valued_on,
            market_value=value,
            currency="CNY",
            method="market_comparison",
            appraiser="Appraiser Ltd",
            status=status,
            submitted_by="asset_manager1",
            submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )


async def test_comparables_are_recent_approved_valuations_of_the_same_kind_nearby(client, as_role, book: Book) -> None:
    await book.asset("SUBJECT", geometry=rect(0, 0, 50, 50))
    await book.asset("C-NEAR", geometry=rect(200, 0, 300, 100))  # 10 000 m², ~225 m away
    await book.asset("C-FAR", geometry=rect(2000, 0, 2050, 50))  # ~2 km
    await book.asset("C-PENDING", geometry=rect(0, 300, 50, 350))
    await book.asset("C-OLD", geometry=rect(0, -300, 50, -250))
    await book.asset("LAND", kind="land_use_right", geometry=rect(-300, 0, -250, 50))
    await book.asset("NO-PARCEL")
    await _valuation("C-NEAR", date(2025, 6, 30), 500_000_000)
    await _valuation("C-NEAR", date(2026, 3, 31), 520_000_000)  # the latest one counts
    await _valuation("C-FAR", date(2026, 1, 15), 100_000_000)
    await _valuation("C-PENDING", date(2026, 2, 1), 100_000_000, status="submitted")
    await _valuation("C-OLD", date(2020, 1, 1), 100_000_000)
    await _valuation("LAND", date(2026, 2, 1), 100_000_000)
    await _valuation("SUBJECT", date(2026, 2, 1), 100_000_000)
    reader = as_role(Role.CREDIT_OFFICER)
    r = await client.get(
        "/api/assets/SUBJECT/comparables", params={"radius_m": 1000, "as_of": "2026-06-30"}, headers=reader
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["subject_ref"], body["valued_from"], body["valued_to"]) == ("SUBJECT", "2024-06-30", "2026-06-30")
    (near,) = body["comparables"]["items"]
    assert near["asset_ref"] == "C-NEAR"
    assert near["valued_on"] == "2026-03-31"
    assert near["market_value"] == "5200000.00"
    assert float(near["value_per_m2"]) == pytest.approx(520, rel=5e-3)
    assert near["distance_m"] == pytest.approx(math.hypot(225, 25), rel=5e-3)
    wide = await client.get(
        "/api/assets/SUBJECT/comparables", params={"radius_m": 5000, "as_of": "2026-06-30"}, headers=reader
    )
    assert [c["asset_ref"] for c in wide.json()["comparables"]["items"]] == ["C-NEAR", "C-FAR"]
    longer = await client.get(
        "/api/assets/SUBJECT/comparables",
        params={"radius_m": 1000, "as_of": "2026-06-30", "days": 3650},
        headers=reader,
    )
    assert [c["asset_ref"] for c in longer.json()["comparables"]["items"]] == ["C-NEAR", "C-OLD"]
    no_parcel = await client.get("/api/assets/NO-PARCEL/comparables", headers=reader)
    assert no_parcel.status_code == 409
    assert (await client.get("/api/assets/NOPE/comparables", headers=reader)).status_code == 404
    for params in ({"radius_m": 0}, {"radius_m": 10**6}, {"days": 0}, {"as_of": "2026-02-30"}):
        assert (
            await client.get("/api/assets/SUBJECT/comparables", params=params, headers=reader)
        ).status_code == 422, params
    assert (await client.get("/api/assets/SUBJECT/comparables", headers=as_role(Role.BIDDER))).status_code == 403


async def test_asset_page_draws_the_parcel_and_highlights_the_overlap(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", owner="P2", geometry=rect(70, 0, 270, 100))
    await book.asset("NEIGHBOUR", geometry=rect(-100, 0, 0, 100))
    await book.asset("FARAWAY", geometry=rect(9000, 9000, 9100, 9100))
    auditor = as_role(Role.AUDITOR)
    page = await client.get("/assets/A1", headers=auditor)
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="parcel-map"' in html
    assert 'class="parcel parcel-subject" data-ref="A1"' in html
    assert 'class="parcel parcel-overlap" data-ref="A2"' in html
    assert 'class="parcel parcel-neighbour" data-ref="NEIGHBOUR"' in html
    assert "FARAWAY" not in html
    assert html.count('data-testid="overlap-area"') == 1
    assert 'data-testid="double-pledge-flag"' in html
    listing = await client.get("/overlaps", headers=auditor)
    assert listing.status_code == 200
    assert 'data-pair="A1|A2"' in listing.text
    assert "Rescan the whole registry" not in listing.text  # auditors only read
    # A parcel without overlaps has a drawing and no flag.
    plain = (await client.get("/assets/NEIGHBOUR", headers=auditor)).text
    assert 'data-testid="parcel-map"' in plain
    assert 'data-testid="double-pledge-flag"' not in plain


async def test_overlaps_page_rescan_for_asset_managers(client, as_role, book: Book) -> None:
    await book.asset("A1", geometry=rect(0, 0, 100, 100))
    await book.asset("A2", geometry=rect(50, 0, 150, 100))
    manager = as_role(Role.ASSET_MANAGER)
    assert "Rescan the whole registry" in (await client.get("/overlaps", headers=manager)).text
    done = await client.post("/overlaps/rescan", headers=manager)
    assert done.status_code == 200
    assert "Rescanned 2 parcels" in done.text
    assert (await client.post("/overlaps/rescan", headers=as_role(Role.CREDIT_OFFICER))).status_code == 403


@pytest.mark.skipif(ENGINE != "sqlite", reason="runs its own SQLite database once, in the SQLite pass")
def test_cli_rescan(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from app import cli; cli()", "parcels", "rescan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "0 parcels scanned" in done.stdout
    assert "0 possible double pledges over 1.00% of either area" in done.stdout


async def test_a_parcel_across_the_antimeridian_is_422_and_flags_nothing(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    across = {
        "type": "Polygon",
        "coordinates": [[[179.99, -17.0], [-179.99, -17.0], [-179.99, -16.99], [179.99, -16.99], [179.99, -17.0]]],
    }
    r = await client.post(
        "/api/assets",
        json={"ref": "FJ1", "kind": "real_estate", "owner_ref": "P1", "geometry": across},
        headers=book.manager,
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "geometry" and "180° meridian" in r.json()["errors"][0]["reason"]
    await book.asset("FJ2")
    r = await client.patch("/api/assets/FJ2", json={"geometry": across}, headers=book.manager)
    assert r.status_code == 422, r.text
    assert await ParcelOverlap.count() == 0
