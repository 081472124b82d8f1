from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from registry import clock
from registry.auth import roles
from registry.roles import REGISTRY_READERS
from registry.schemas.common import Paging
from registry.schemas.fields import YEARS_PATTERN
from valuation.comparables import Comparables, comparables

Radius = Annotated[float, QueryParameter(gt=0, le=50_000, description="metres from the subject's centroid")]
Days = Annotated[int, QueryParameter(ge=1, le=3650, description="how far back a valuation may date")]


class ComparablesController(Controller):
    path = "/api/assets"
    tags = ["valuation"]

    @get(
        "/{ref:str}/comparables",
        operation_id="ListComparables",
        name="valuation:comparables",
        opt=roles(REGISTRY_READERS),
    )
    async def list_comparables(
        self,
        ref: FromPath[str],
        paging: NamedDependency[Paging],
        radius_m: Radius = 3000,
        days: Days = 730,
        as_of: Annotated[
            date | None,
            QueryParameter(description="end of the window; default today", schema_extra={"pattern": YEARS_PATTERN}),
        ] = None,
    ) -> Comparables:
        """Latest approved valuation of each nearby asset of the same kind, nearest first."""
        return await comparables(ref, radius_m=radius_m, days=days, as_of=as_of or clock.today(), paging=paging)
