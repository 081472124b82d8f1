"""The parcel drawing of the asset page: inline SVG made on the server from the Shapely geometries.

No map tiles and no script: customer parcels never leave the server, and the drawing works with
JavaScript off. Coordinates are projected onto a local plane in metres around the subject parcel
(equirectangular, exact enough across a few hundred metres), north up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import shapely
from markupsafe import Markup, escape
from shapely.geometry.base import BaseGeometry

from frontend.templating import label

if TYPE_CHECKING:
    from registry.services.parcel_search import Neighbourhood

_M_PER_DEG_LAT = 111_320.0
_MIN_VIEW_M = 80.0
_ASPECT = 48 / 26  # width over height of .parcel-map in app.css, so the frame is filled
_MARGIN = 0.06  # of the framed box's larger side, so outlines at the edge are not clipped by the stroke
_NICE_LENGTHS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000)


@dataclass(frozen=True, slots=True)
class _Plane:
    lon0: float
    lat0: float
    m_per_deg_lon: float

    def project(self, geom: BaseGeometry) -> BaseGeometry:
        # SVG's y axis points down, so north is minus y.
        return shapely.transform(geom, lambda xy: (xy - (self.lon0, self.lat0)) * (self.m_per_deg_lon, -_M_PER_DEG_LAT))


def _path_data(geom: BaseGeometry) -> str:
    rings = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon":
            continue
        for ring in (part.exterior, *part.interiors):
            coords = list(ring.coords)
            points = " L".join(f"{x:.1f} {y:.1f}" for x, y in coords[:-1])
            rings.append(f"M{points} Z")
    return " ".join(rings)


def frame(
    bounds: tuple[float, float, float, float] | Sequence[float],
    aspect: float = _ASPECT,
    min_size: float = _MIN_VIEW_M,
    margin: float = _MARGIN,
) -> tuple[float, float, float, float]:
    """The view (x0, y0, width, height) holding the box (min_x, min_y, max_x, max_y) with a margin around it (a share
    of its larger side), at least min_size across, widened on one axis to the drawing's aspect (width / height)."""
    min_x, min_y, max_x, max_y = (float(v) for v in bounds)
    pad = margin * max(max_x - min_x, max_y - min_y)
    width, height = max_x - min_x + 2 * pad, max_y - min_y + 2 * pad
    width, height = max(width, height * aspect), max(height, width / aspect)
    if width < min_size:
        width, height = min_size, min_size / aspect
    x0, y0 = (min_x + max_x - width) / 2, (min_y + max_y - height) / 2
    return x0, y0, width, height


def _scale_bar(width_m: float) -> int:
    target = width_m / 5
    return max([n for n in _NICE_LENGTHS if n <= target], default=_NICE_LENGTHS[0])


def render(hood: Neighbourhood) -> Markup:
    subject = hood.parcels[0]
    centre = subject.geometry.centroid
    plane = _Plane(centre.x, centre.y, _M_PER_DEG_LAT * math.cos(math.radians(centre.y)))
    # Frame every parcel drawn, neighbours included, so none is cut at the edge.
    x0, y0, width, height = frame(shapely.total_bounds([plane.project(p.geometry) for p in hood.parcels]))
    stroke = 'vector-effect="non-scaling-stroke"'
    out = [
        f'<svg class="parcel-map" data-testid="parcel-map" role="img" viewBox="{x0:.1f} {y0:.1f} {width:.1f} '
        f'{height:.1f}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Parcel of {escape(subject.ref)} and the parcels around it</title>",
    ]
    # Neighbours first, then parcels drawn over the subject, then the subject, then the shared ground on top.
    order = {"neighbour": 0, "overlap": 1, "subject": 2}
    for parcel in sorted(hood.parcels, key=lambda p: order[p.role]):
        d = _path_data(plane.project(parcel.geometry))
        title = f"{parcel.ref} · {label(parcel.kind)} · {label(parcel.status)}"
        path = (
            f'<path class="parcel parcel-{parcel.role}" data-ref="{escape(parcel.ref)}" {stroke} '
            f'fill-rule="evenodd" d="{d}"><title>{escape(title)}</title></path>'
        )
        if parcel.role == "subject":
            out.append(path)
        else:
            out.append(f'<a href="/assets/{escape(parcel.ref)}">{path}</a>')
    for area in hood.overlap_areas:
        d = _path_data(plane.project(area))
        if d:
            out.append(
                f'<path class="overlap-area" data-testid="overlap-area" {stroke} fill-rule="evenodd" d="{d}">'
                f"<title>Ground drawn in two parcels: possible double pledge</title></path>"
            )
    font = height / 28
    focus = shapely.total_bounds([plane.project(p.geometry) for p in hood.parcels if p.role != "neighbour"])
    if max(focus[2] - focus[0], focus[3] - focus[1]) < width * 0.06:
        # Among far neighbours the asset's own parcel is a speck: ring it so the eye finds it.
        cx, cy = (focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2
        out.append(
            f'<circle class="focus-ring" data-testid="focus-ring" {stroke} cx="{cx:.1f}" cy="{cy:.1f}" '
            f'r="{width * 0.05:.1f}"/>'
        )
    for parcel in hood.parcels:
        # The subject's name above it, the others' below theirs, so the labels of an overlapping pair never collide.
        minx, miny, maxx, maxy = plane.project(parcel.geometry).bounds
        above = parcel.role == "subject"
        y = miny - font * 0.4 if above else maxy + font * 1.05
        size = font if parcel.role != "neighbour" else font * 0.8
        out.append(
            f'<text class="parcel-label parcel-label-{parcel.role}" x="{(minx + maxx) / 2:.1f}" y="{y:.1f}" '
            f'font-size="{size:.1f}" text-anchor="middle">{escape(parcel.ref)}</text>'
        )
    bar = _scale_bar(width)
    bx, by = x0 + width * 0.04, y0 + height * 0.95
    out.append(
        f'<g class="scale-bar"><line x1="{bx:.1f}" y1="{by:.1f}" x2="{bx + bar:.1f}" y2="{by:.1f}" {stroke}/>'
        f'<text x="{bx:.1f}" y="{by - height * 0.015:.1f}" font-size="{height / 30:.1f}">{bar} m</text></g>'
        f'<text class="north" x="{x0 + width * 0.96:.1f}" y="{y0 + height * 0.07:.1f}" font-size="{height / 22:.1f}" '
        f'text-anchor="end">N ↑</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every value above is a number or escaped
