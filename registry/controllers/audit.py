from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from registry import audit
from registry.auth import roles
from registry.roles import AUDIT_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead, ChainReportRead


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]

    @get(operation_id="ListAuditEvents", name="audit:list", opt=roles(AUDIT_READERS))
    async def list_events(
        self,
        paging: NamedDependency[Paging],
        entity: FromQuery[str | None] = None,
        entity_ref: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
    ) -> Page[AuditEventRead]:
        return await audit.list_events(paging, entity=entity, entity_ref=entity_ref, actor=actor)

    @get("/verify", operation_id="VerifyAuditChain", name="audit:verify", opt=roles(AUDIT_READERS))
    async def verify_chain(self) -> ChainReportRead:
        report = await audit.verify()
        return ChainReportRead(
            ok=report.ok, events=report.events, first_broken_seq=report.first_broken_seq, reason=report.reason
        )
