"""The audit log for auditors and admins: events newest first, filtered by entity, ref, actor and dates, each with
its before and after side by side, and a button that verifies the hash chain and says where it breaks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream, Template
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.downloads import ListFormat, csv_stream, csv_url, every_page
from frontend.list_exports import AUDIT_HEADER, audit_row
from frontend.paging import kept_fields, page_links
from frontend.record_views import diff_lines, record_url
from frontend.templating import layout_context
from registry import audit
from registry.auth import roles
from registry.controllers.params import paging_provider
from registry.roles import AUDIT_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead

PAGE_SIZE = 25
Filter = Annotated[str | None, QueryParameter(max_length=64)]
# The entities the registry, valuations and disposals record, offered as suggestions; any other is typed.
KNOWN_ENTITIES = (
    "party",
    "loan",
    "asset",
    "lien",
    "valuation",
    "valuation_upload",
    "policy",
    "book",
    "user",
    "parcel_overlap",
    "disposal",
)


@dataclass
class AuditQuery:
    entity: str = ""
    ref: str = ""
    actor: str = ""
    date_from: str = ""
    date_to: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None

    @property
    def filtered(self) -> bool:
        return any((self.entity, self.ref, self.actor, self.date_from, self.date_to))

    def params(self) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name, value in (
                ("entity", self.entity),
                ("ref", self.ref),
                ("actor", self.actor),
                ("from", self.date_from),
                ("to", self.date_to),
            )
            if value
        ]

    def url(self, page: int = 1) -> str:
        params: list[tuple[str, str | int]] = [*self.params()]
        if page > 1:
            params.append(("page", page))
        return "/audit" + (f"?{urlencode(params)}" if params else "")

    def actor_url(self, actor: str) -> str:
        """An event's actor as a filter: that actor's events among those the other filters keep."""
        return replace(self, actor=actor).url()

    @property
    def kept(self) -> list[tuple[str, str]]:
        """The filters in force, which "Verify the chain" carries so that the log under its report stays as it was."""
        return kept_fields(self.params())


def _day(query: AuditQuery, name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        query.errors[name] = f"{text!r} is not a date such as 2026-03-01"
        return None


def read_query(
    entity: str | None, ref: str | None, actor: str | None, since: str | None, until: str | None
) -> AuditQuery:
    entity, ref, actor, since, until = ((v or "").strip() for v in (entity, ref, actor, since, until))
    query = AuditQuery(entity, ref, actor, since, until)
    first, last = _day(query, "from", query.date_from), _day(query, "to", query.date_to)
    if first and last and last < first:
        query.errors["to"] = "the last day comes before the first"
    if not query.errors:
        # Whole UTC days, both ends included: the log's times are UTC, and so is what the page shows.
        query.since = datetime.combine(first, time(), UTC) if first else None
        query.until = datetime.combine(last + timedelta(days=1), time(), UTC) if last and last.year < 9999 else None
    return query


@dataclass(frozen=True, slots=True)
class EventView:
    event: AuditEventRead
    url: str | None
    lines: list[Any]


def _views(found: Page[AuditEventRead]) -> list[EventView]:
    return [EventView(e, record_url(e.entity, e.entity_ref), diff_lines(e.before, e.after)) for e in found.items]


async def _audit_page(
    request: Request[Any, Any, Any], query: AuditQuery, paging: Paging, report: audit.ChainReport | None = None
) -> Template:
    if query.errors:
        found: Page[AuditEventRead] = Page([], 0, 1, paging.page_size)
    else:
        found = await audit.list_events(
            paging,
            entity=query.entity or None,
            entity_ref=query.ref or None,
            actor=query.actor or None,
            since=query.since,
            until=query.until,
        )
    return Template(
        template_name="records/audit.html",
        context={
            **layout_context(request),
            "query": query,
            "page": found,
            "events": _views(found),
            "links": page_links(found, query.url),
            "entities": KNOWN_ENTITIES,
            "report": report,
            "csv_url": csv_url(query.url()),
        },
        status_code=HTTP_422_UNPROCESSABLE_ENTITY if query.errors else HTTP_200_OK,
    )


class AuditPagesController(Controller):
    path = "/audit"
    dependencies = {"paging": paging_provider(PAGE_SIZE, sized=False)}

    @get(name="pages:audit", opt=roles(AUDIT_READERS))
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        paging: NamedDependency[Paging],
        entity: Filter = None,
        ref: Filter = None,
        actor: Filter = None,
        date_from: Annotated[str | None, QueryParameter(name="from", max_length=32)] = None,
        date_to: Annotated[str | None, QueryParameter(name="to", max_length=32)] = None,
        fmt: Annotated[ListFormat, QueryParameter(name="format")] = "html",
    ) -> Template | Stream:
        query = read_query(entity, ref, actor, date_from, date_to)
        if fmt == "csv" and not query.errors:  # a bad date is said on the page, beside its field
            listed = partial(
                audit.list_events,
                entity=query.entity or None,
                entity_ref=query.ref or None,
                actor=query.actor or None,
                since=query.since,
                until=query.until,
            )
            return csv_stream("audit-log.csv", AUDIT_HEADER, every_page(listed), audit_row)
        return await _audit_page(request, query, paging)

    @get("/verify", name="pages:audit-verify", opt=roles(AUDIT_READERS))
    async def verify(
        self,
        request: Request[Any, Any, Any],
        paging: NamedDependency[Paging],
        entity: Filter = None,
        ref: Filter = None,
        actor: Filter = None,
        date_from: Annotated[str | None, QueryParameter(name="from", max_length=32)] = None,
        date_to: Annotated[str | None, QueryParameter(name="to", max_length=32)] = None,
    ) -> Template:
        # Read-only, so a GET: the result can be reloaded and the button needs no form token. The whole chain is
        # verified whatever the filters; they only keep the log below the report as it was.
        query = read_query(entity, ref, actor, date_from, date_to)
        return await _audit_page(request, query, paging, report=await audit.verify())
