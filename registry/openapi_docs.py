"""What the OpenAPI document says beyond what Litestar infers from the handlers' signatures, so that a client
generated from it (and the schema fuzzing in tests/integration/test_schema_fuzz.py) knows every answer a route
gives and sends requests the API takes:

- every error a route can answer (401, 403, 404, 409, 422, ...) as the problem+json it is (registry/problems.py);
- request bodies refuse unknown fields (`additionalProperties: false`), as `forbid_unknown_fields` Structs do;
- the downloads (csv, parquet, a stored document) and the multipart uploads with the media types and form fields
  the handlers really take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Router
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation
from litestar.openapi.spec import Schema as SpecSchema

from registry.edge import json_body_expected

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

PROBLEM_JSON = "application/problem+json"
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class FieldProblem(msgspec.Struct):
    field: str
    reason: str


class Problem(msgspec.Struct):
    """RFC 9457 problem details; a refusal of input lists every bad field in `errors`, a missing row names its
    `entity` and `ref`, and some problems carry more (a bid's `minimum_bid`, a coverage's `missing_pairs`)."""

    status: int
    title: str
    detail: str | None = None
    type: str | None = None
    errors: list[FieldProblem] | None = None


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem, description=description, media_type=PROBLEM_JSON, generate_examples=False
    )


_WHY = {
    400: "The request cannot be read",
    401: "No valid bearer token (or, at login, wrong username or password)",
    403: "The token's role may not use this route",
    404: "A row the request names does not exist",
    409: "The request conflicts with the current state (a ref taken, a move the state does not allow)",
    413: "The body is larger than this route takes",
    415: "The body is not of the media type this route takes (application/json)",
    422: "Invalid input: every bad field is named in `errors`",
    429: "Too many attempts; retry after the time in Retry-After",
}
_NOT_INPUT = {"self", "request", "state", "scope"}
# Reads that answer 409 when the row is not in a state they can read (comparables of an asset without a parcel).
_CONFLICTING_READS = {"ListComparables"}
_READS = {"GET", "HEAD"}


def _statuses(handler: HTTPRouteHandler) -> set[int]:
    public = bool(handler.opt.get("public"))
    params = set(handler.parsed_fn_signature.parameters) - _NOT_INPUT
    has_path_params = any("{" in path for path in handler.paths)
    statuses: set[int] = set() if public else {401, 403}
    if params:
        statuses |= {400, 422}
    if has_path_params or (params and not public):
        statuses.add(404)  # a path's row, or a ref the body or query names
    if (not handler.http_methods <= _READS or handler.operation_id in _CONFLICTING_READS) and not public:
        statuses.add(409)
    if "data" in params:
        statuses.add(413)  # every body has a size limit
        if json_body_expected(handler):
            statuses.add(415)  # the JSON API takes application/json bodies only (registry.edge)
    if handler.operation_id == "Login":
        statuses |= {401, 429}
    return statuses


# Downloads: the media types a route answers 200 with besides JSON (or instead of the octet stream Litestar infers).
_TEXT = {"type": "string"}
_BINARY = {"type": "string", "format": "binary"}
_DOWNLOADS: dict[str, dict[str, dict[str, Any]]] = {
    "ListLoanCoverage": {"text/csv": _TEXT, "application/vnd.apache.parquet": _BINARY},
    "ListBorrowerCoverage": {"text/csv": _TEXT, "application/vnd.apache.parquet": _BINARY},
    "DisposalMetrics": {"text/csv": _TEXT},
    # A stored document comes back with the media type it was uploaded with.
    "DownloadDocument": {"*/*": _BINARY},
}
# Uploads: the form fields the multipart handlers read (Litestar sees only a dict).
_MULTIPART: dict[str, dict[str, Any]] = {
    "UploadDocument": {
        "type": "object",
        "required": ["file", "entity", "entity_ref"],
        "properties": {
            "file": _BINARY,
            "entity": {"type": "string", "enum": ["party", "loan", "asset", "lien"]},
            "entity_ref": {"type": "string", "pattern": REF_PATTERN},
        },
    },
    "UploadValuations": {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {**_BINARY, "description": "valuations.csv or valuations.parquet"}},
        "additionalProperties": False,
    },
    "ImportBook": {
        "type": "object",
        "minProperties": 1,
        "description": "one or more book files, each as parties.csv, loans.parquet, ...: any field names",
        "additionalProperties": _BINARY,
    },
}


class _DocumentedOperation(Operation):
    """An operation whose downloads and multipart body are stated as the handler really answers and reads them."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        op_id = schema.get("operationId")
        if downloads := _DOWNLOADS.get(str(op_id)):
            ok = schema.get("responses", {}).get("200", {})
            content = ok.setdefault("content", {})
            if op_id == "DownloadDocument":
                content.clear()
            for media_type, body in downloads.items():
                content[media_type] = {"schema": body}
        if form := _MULTIPART.get(str(op_id)):
            schema["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
        return schema


def document_problems(router: Router) -> Router:
    """Declare on every handler of the router the problems it can answer, and its downloads and uploads as they
    are. Called before the router is registered (registration copies the handlers)."""
    for route in router.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or handler.include_in_schema is False:
                continue
            declared: Mapping[int, ResponseSpec] = handler.responses or {}
            problems = {status: _problem(_WHY[status]) for status in sorted(_statuses(handler))}
            handler.responses = {**problems, **declared}
            if handler.operation_id in _DOWNLOADS or handler.operation_id in _MULTIPART:
                handler.operation_class = _DocumentedOperation
    return router


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's schema of a msgspec Struct, plus `additionalProperties: false` for a Struct that refuses
    unknown fields, so generated requests leave them out as the API requires."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, SpecSchema):
                _constrain_list_items(prop, field.type)
        return schema


def _item_constraints(item: Any) -> dict[str, Any]:
    """The Schema attributes of a list item's msgspec constraints (Litestar states them only for whole fields)."""
    extra: dict[str, Any] = {}
    if isinstance(item, msgspec.inspect.Metadata):
        extra = dict((item.extra_json_schema or {}).get("extra") or {})
        item = item.type
    out: dict[str, Any] = {}
    if isinstance(item, msgspec.inspect.StrType):
        out = {"min_length": item.min_length, "max_length": item.max_length, "pattern": item.pattern}
    elif isinstance(item, msgspec.inspect.IntType):
        out = {"minimum": item.ge, "maximum": item.le}
    return {k: v for k, v in {**out, **extra}.items() if v is not None}


def _constrain_list_items(prop: Schema, field_type: Any) -> None:
    if isinstance(field_type, msgspec.inspect.Metadata):
        field_type = field_type.type
    lists = [t for t in getattr(field_type, "types", (field_type,)) if isinstance(t, msgspec.inspect.ListType)]
    if not lists:
        return
    constraints = _item_constraints(lists[0].item_type)
    arrays = [s for s in [prop, *(prop.one_of or [])] if isinstance(s, SpecSchema) and isinstance(s.items, SpecSchema)]
    for array in arrays:
        for name, value in constraints.items():
            setattr(array.items, name, value)
