from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from registry import audit
from registry.auth import roles
from registry.errors import InvalidInputError
from registry.roles import AUDIT_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditCheckpointRead, AuditEventRead, ChainReportRead

Since = Annotated[
    str | None,
    QueryParameter(
        description="a checkpoint SEQ:HASH; the chain must still reach it unchanged",
        pattern=r"^[0-9]{1,19}:[0-9a-f]{64}$",
        max_length=84,
    ),
]


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
    async def verify_chain(self, since: Since = None) -> ChainReportRead:
        try:
            checkpoint = audit.Checkpoint.parse(since) if since is not None else None
        except ValueError as exc:
            raise InvalidInputError.one("since", str(exc)) from None
        report = await audit.verify(since=checkpoint)
        return ChainReportRead(
            ok=report.ok,
            events=report.events,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
            unkeyed_events=report.unkeyed_events,
        )

    @get("/checkpoint", operation_id="AuditCheckpoint", name="audit:checkpoint", opt=roles(AUDIT_READERS))
    async def checkpoint(self) -> AuditCheckpointRead:
        """The chain's head, to be kept outside the database and given back to verify as `since`."""
        head = await audit.checkpoint()
        return AuditCheckpointRead(seq=head.seq, hash=head.hash, checkpoint=str(head))
