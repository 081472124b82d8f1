from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter

from registry.auth import roles
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS
from registry.schemas.assets import AssetKind, AssetStatus
from registry.schemas.common import Page, Paging
from registry.schemas.misc import UserRead
from registry.schemas.spatial import MapParcels, OverlapRead, ParcelHit, RegionQuery, RescanReport
from registry.services import parcel_overlaps, parcel_search

# Features one map request may return: enough for a district's parcels, small enough to draw at once.
MAX_MAP_PARCELS = 2000
# A search radius beyond a city is a portfolio question, not a neighbourhood one.
MAX_RADIUS_M = 100_000

Longitude = Annotated[float, QueryParameter(ge=-180, le=180, description="WGS84 longitude, degrees")]
Latitude = Annotated[float, QueryParameter(ge=-90, le=90, description="WGS84 latitude, degrees")]
MapLimit = Annotated[int, QueryParameter(ge=1, le=MAX_MAP_PARCELS, description="most parcels returned")]
Radius = Annotated[float, QueryParameter(gt=0, le=MAX_RADIUS_M, description="metres, geodesic")]


class ParcelController(Controller):
    path = "/api/registry"
    tags = ["parcels"]

    @get("/overlaps", operation_id="ListParcelOverlaps", name="parcels:overlaps", opt=roles(REGISTRY_READERS))
    async def list_overlaps(
        self, paging: NamedDependency[Paging], asset_ref: FromQuery[str | None] = None
    ) -> Page[OverlapRead]:
        """Pairs of parcels flagged "possible double pledge", newest first."""
        return await parcel_overlaps.list_overlaps(paging, asset_ref=asset_ref)

    @post(
        "/overlaps/rescan",
        operation_id="RescanParcelOverlaps",
        name="parcels:rescan",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def rescan(self, request: Request[UserRead, Any, Any]) -> RescanReport:
        """Scan the whole registry again and replace every overlap row (one audit event)."""
        return await parcel_overlaps.rescan(request.user.username)

    @post(
        "/parcels/in-region",
        operation_id="ParcelsInRegion",
        name="parcels:in-region",
        opt=roles(REGISTRY_READERS),
        status_code=200,
    )
    async def in_region(self, paging: NamedDependency[Paging], data: JSONBody[RegionQuery]) -> Page[ParcelHit]:
        """Assets whose parcel is in a GeoJSON Polygon or MultiPolygon, in ref order."""
        return await parcel_search.assets_in_region(data, paging)

    @get("/parcels/near", operation_id="ParcelsNear", name="parcels:near", opt=roles(REGISTRY_READERS))
    async def near(
        self,
        paging: NamedDependency[Paging],
        lon: Longitude,
        lat: Latitude,
        radius_m: Radius,
        kind: FromQuery[AssetKind | None] = None,
        status: FromQuery[AssetStatus | None] = None,
    ) -> Page[ParcelHit]:
        """Assets whose parcel centroid is within radius_m of the point, nearest first."""
        return await parcel_search.assets_near(lon, lat, radius_m, paging, kind=kind, status=status)

    @get("/parcels/in-box", operation_id="ParcelsInBox", name="parcels:in-box", opt=roles(REGISTRY_READERS))
    async def in_box(
        self,
        min_lon: Longitude,
        min_lat: Latitude,
        max_lon: Longitude,
        max_lat: Latitude,
        limit: MapLimit = MAX_MAP_PARCELS,
    ) -> MapParcels:
        """The parcels whose bounding box meets the box, as a GeoJSON FeatureCollection for a map: flagged
        "possible double pledge" first, then by ref; `truncated` says when more than `limit` are in the box."""
        return await parcel_search.parcels_in_box(min_lon, min_lat, max_lon, max_lat, limit)
