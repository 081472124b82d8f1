"""The portfolio map of every parcel, and what any page with a Leaflet map needs (the book's extent, the optional
tile server). The parcels themselves travel as GeoJSON from /api/registry/parcels/in-box, a box at a time."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Template

from frontend.saved_regions import SAVED_REGIONS
from frontend.templating import layout_context
from registry.auth import roles
from registry.controllers.parcels import MAX_MAP_PARCELS
from registry.edge_settings import edge_settings
from registry.roles import REGISTRY_READERS
from registry.services import parcel_search


def _box_text(box: tuple[float, float, float, float] | None) -> str:
    return ",".join(f"{v:.7f}" for v in box) if box else ""


async def map_context(focus_ref: str | None = None) -> dict[str, Any]:
    """Data attributes of a map: where the parcels are (and the one parcel to open on, if any), how many one view
    draws, the base map if configured."""
    return {
        "map_extent": _box_text(await parcel_search.parcel_extent()),
        "map_focus": _box_text(await parcel_search.parcel_box(focus_ref)) if focus_ref else "",
        "map_focus_ref": focus_ref or "",
        "map_tile_url": edge_settings().map_tile_url or "",
        "map_limit": MAX_MAP_PARCELS,
    }


def _saved_regions() -> dict[str, Any]:
    # Their GeoJSON goes to the page's script as data (<script type="application/json">, which is not run).
    return {"saved_regions": SAVED_REGIONS, "saved_region_shapes": {r.key: r.geometry for r in SAVED_REGIONS}}


async def region_map_context() -> dict[str, Any]:
    """A stress form's region picker: the map and the saved regions."""
    return {**await map_context(), **_saved_regions()}


class MapPagesController(Controller):
    path = "/parcels/map"

    @get(name="pages:parcel-map", opt=roles(REGISTRY_READERS))
    async def portfolio(self, request: Request[Any, Any, Any], ref: FromQuery[str | None] = None) -> Template:
        """Framed on the whole book, or on one asset's parcel and its surroundings (`?ref=`)."""
        context = {**await map_context(ref[:64] if ref else None), **_saved_regions()}
        return Template(template_name="maps/portfolio.html", context={**layout_context(request), **context})
