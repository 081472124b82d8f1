from __future__ import annotations

import json

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery

from registry import audit
from registry.auth import roles
from registry.controllers.params import provide_paging
from registry.roles import AUDIT_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead, ChainReportRead
from registry.tables import AuditEvent


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    dependencies = {"paging": Provide(provide_paging, sync_to_thread=False)}

    @get(operation_id="ListAuditEvents", name="audit:list", opt=roles(AUDIT_READERS))
    async def list_events(
        self,
        paging: NamedDependency[Paging],
        entity: FromQuery[str | None] = None,
        entity_ref: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
    ) -> Page[AuditEventRead]:
        where = []
        if entity:
            where.append(AuditEvent.entity == entity)
        if entity_ref:
            where.append(AuditEvent.entity_ref == entity_ref)
        if actor:
            where.append(AuditEvent.actor == actor)
        total = await AuditEvent.count().where(*where)
        rows = (
            await AuditEvent.select()
            .where(*where)
            .order_by(AuditEvent.seq, ascending=False)
            .limit(paging.page_size)
            .offset(paging.offset)
        )
        items = [
            AuditEventRead(
                seq=r["seq"],
                at=r["at"],
                actor=r["actor"],
                entity=r["entity"],
                entity_ref=r["entity_ref"],
                action=r["action"],
                before=json.loads(r["before"]) if r["before"] else None,
                after=json.loads(r["after"]) if r["after"] else None,
                hash=r["hash"],
            )
            for r in rows
        ]
        return Page(items, total, paging.page, paging.page_size)

    @get("/verify", operation_id="VerifyAuditChain", name="audit:verify", opt=roles(AUDIT_READERS))
    async def verify_chain(self) -> ChainReportRead:
        report = await audit.verify()
        return ChainReportRead(
            ok=report.ok, events=report.events, first_broken_seq=report.first_broken_seq, reason=report.reason
        )
