"""Schema fuzzing: schemathesis generates requests from the app's own OpenAPI document (`/schema/openapi.json`)
for every operation, each sent with the bearer token of a role the route allows, against a small book; every
response must be no server error and must match what the document says of it (status code, content type, body).

Cases are generated from a fixed seed (reproducible; COLLATERAL_FUZZ_SEED picks another). The count per operation
is COLLATERAL_FUZZ_CASES (default 30, about 2,200 cases in all on SQLite; a tenth of that on PostgreSQL, whose pass
repeats the same checks against the other engine); docs/operations.md ("Schema fuzzing") has the longer run for
releases. COLLATERAL_FUZZ_REPORT=FILE writes, per operation, the cases sent, the statuses answered and the commonest
422 reasons: a schema that states what the API enforces keeps the share of 422s small, so a client generated from
it sends requests the API takes.

Hypothesis runs in a worker thread (it is synchronous) and sends each request to the app on the test's own event
loop, where the app's database pool lives.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from registry.roles import Role
from tests.conftest import ENGINE
from tests.integration.disposal_book import two_asset_lot

pytestmark = pytest.mark.integration

DEFAULT_CASES = 30 if ENGINE == "sqlite" else 3
CASES_PER_OPERATION = int(os.environ.get("COLLATERAL_FUZZ_CASES", DEFAULT_CASES))
# Unset: the same cases every run (CI). A release run may add other seeds to reach other cases.
SEED = int(os.environ["COLLATERAL_FUZZ_SEED"]) if os.environ.get("COLLATERAL_FUZZ_SEED") else None
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A round's live feed is a server-sent event stream that stays open until the round closes: it has its own tests
# (test_live_events.py), a generated request would wait for ever. Logout revokes the token it is called with, which
# is the role's token every later case and test uses (test_login_hardening.py tests it).
NOT_FUZZED = {"RoundEvents", "Logout"}
# Refs and ids of the seeded book: path parameters take one of these in about half the cases, so the operations
# that read or change one thing get past the 404 and exercise their own checks.
SEEDED_REFS = ["P1", "L1", "L2", "A1", "A2", "M1", "M2", "X1", "C1"]


async def seed_book(client: httpx.AsyncClient, as_role: Any) -> dict[str, list[Any]]:
    """Two assets pledged for two loans (disposal_book.two_asset_lot), a disposal case with a scheduled round."""
    await two_asset_lot(client, as_role)
    officer = as_role(Role.DISPOSAL_OFFICER)
    r = await client.post(
        "/api/disposals", headers=officer, json={"ref": "C1", "asset_refs": ["A1", "A2"], "profile": "cn-commercial"}
    )
    assert r.status_code == 201, r.text
    today = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    r = await client.post(
        "/api/disposals/C1/rounds",
        headers=officer,
        json={
            "starting_price": "900000.00",
            "increment": "5000.00",
            "deposit": "90000.00",
            "notice_published_on": today.date().isoformat(),
            "starts_at": (today + timedelta(days=30)).isoformat(),
            "ends_at": (today + timedelta(days=31)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    ids = [1, 2, r.json()["round_id"]]
    return {"ref": SEEDED_REFS, "id": sorted(set(ids))}


def _path_values(operation: Any, seeded: dict[str, list[Any]]) -> dict[str, st.SearchStrategy[Any]]:
    out: dict[str, st.SearchStrategy[Any]] = {}
    for parameter in operation.path_parameters:
        name = parameter.name
        if name == "ref":
            out[name] = st.sampled_from(seeded["ref"])
        elif name.endswith("_id"):
            out[name] = st.sampled_from(seeded["id"])
    return out


def _strategy(operation: Any, seeded: dict[str, list[Any]]) -> st.SearchStrategy[Any]:
    generated = operation.as_strategy()
    fixed = _path_values(operation, seeded)
    if not fixed:
        return generated
    seeded_paths = st.fixed_dictionaries(fixed).flatmap(lambda values: operation.as_strategy(path_parameters=values))
    return st.one_of(generated, seeded_paths)


def _httpx_kwargs(case: Any, token: str) -> dict[str, Any]:
    """The case as schemathesis would send it with requests (which encodes forms and multipart its own way),
    prepared into bytes and headers that httpx sends as they are."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    kwargs.pop("cookies", None)
    kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {token}"}
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": body.encode() if isinstance(body, str) else body,
    }


class Run:
    """What the run saw: statuses per operation and every failed check."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.failures: list[str] = []
        self.refusals: dict[str, Counter[str]] = defaultdict(Counter)

    def report(self) -> dict[str, Any]:
        return {
            op: {
                "cases": sum(c.values()),
                "refused_422": c[422],
                "statuses": dict(sorted(c.items())),
                "reasons": dict(self.refusals[op].most_common(5)),
            }
            for op, c in sorted(self.statuses.items())
        }


def fuzz_operation(
    operation: Any,
    roles: list[Role],
    tokens: dict[Role, str],
    seeded: dict[str, list[Any]],
    send: Callable[[dict[str, Any]], httpx.Response],
    run: Run,
) -> None:
    label = operation.label
    op_id = operation.definition.raw.get("operationId", label)

    @settings(
        max_examples=CASES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED or 0)
    @given(case=_strategy(operation, seeded), role=st.sampled_from(roles))
    def one(case: Any, role: Role) -> None:
        request = _httpx_kwargs(case, tokens[role])
        response = send(request)
        run.statuses[op_id][response.status_code] += 1
        if response.status_code == 422:
            errors = response.json().get("errors") or [{"field": "", "reason": response.json().get("detail")}]
            run.refusals[op_id].update(f"{e.get('field')}: {str(e.get('reason'))[:80]}" for e in errors)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # every failing case is reported, not only the first one
            body = response.text[:300]
            kinds = sorted({type(failure).__name__ for failure in exc.exceptions})
            run.failures.append(f"{label} as {role.value}: {response.status_code} {kinds} {body}\n{exc}\n{request}")

    one()


async def test_generated_requests_get_no_server_error_and_documented_answers(client, app, tokens, as_role) -> None:
    seeded = await seed_book(client, as_role)
    document = (await client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    roles_by_operation = {
        h.operation_id: sorted(h.opt.get("roles") or set(Role))
        for route in app.routes
        for h in getattr(route, "route_handlers", [])
        if isinstance(getattr(h, "operation_id", None), str)
    }
    loop = asyncio.get_running_loop()

    def send(request: dict[str, Any]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(client.request(**request), loop).result(timeout=60)

    run = Run()
    started = time.monotonic()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        op_id = operation.definition.raw.get("operationId")
        if op_id in NOT_FUZZED:
            continue
        operations += 1
        roles = roles_by_operation[op_id]
        await asyncio.to_thread(fuzz_operation, operation, roles, tokens, seeded, send, run)
    seconds = time.monotonic() - started
    cases = sum(sum(c.values()) for c in run.statuses.values())
    print(f"schema fuzzing: {cases} cases over {operations} operations in {seconds:.1f} s")
    if path := os.environ.get("COLLATERAL_FUZZ_REPORT"):
        Path(path).write_text(  # noqa: ASYNC240 (a report of a finished run)
            json.dumps({"operations": run.report(), "failures": run.failures}, indent=1)
        )
    assert not run.failures, f"{len(run.failures)} failed cases:\n\n" + "\n\n".join(run.failures[:20])
    assert operations >= 70
    assert cases >= CASES_PER_OPERATION * operations // 2


@pytest.mark.parametrize("url", ["/api/imports", "/api/documents", "/api/valuations/uploads"])
async def test_a_form_field_that_is_not_utf8_is_422_not_500(client, as_role, url) -> None:
    # Found by the schema fuzzing: a multipart field sent without a filename is decoded as text, and bytes that are
    # not UTF-8 there were a 500.
    boundary = "fuzz-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'.encode()
        + b"PK\x03\x04\x14\x00\x97\xfd binary"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = await client.post(
        url,
        content=body,
        headers={**as_role(Role.ADMIN), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {"field": "body", "reason": "a form field is not UTF-8 text (send files with a filename)"}
    ]


async def _validated(
    client: httpx.AsyncClient, schema: Any, method: str, path: str, query: str = "", **kwargs: Any
) -> int:
    """Send one request (path parameters given as keywords) and check its answer against the document as the
    fuzzing does; the status it had."""
    path_parameters = {k: kwargs.pop(k) for k in list(kwargs) if "{" + k + "}" in path}
    response = await client.request(method, path.format(**path_parameters) + query, **kwargs)
    case = schema[path][method].Case(
        path_parameters=path_parameters, body=kwargs.get("json", schemathesis.core.NOT_SET)
    )
    case.validate_response(response, checks=CHECKS)
    return response.status_code


async def test_the_document_describes_the_answers_the_fuzzing_found_undocumented(client, as_role) -> None:
    # Before, the document knew only 200/201 and a JSON 400: every problem (401, 403, 404, 409, 422), the CSV and
    # Parquet downloads and a stored document's own media type were answers it did not describe.
    await seed_book(client, as_role)
    schema = schemathesis.openapi.from_dict((await client.get("/schema/openapi.json")).json())
    admin, auditor, bidder = as_role(Role.ADMIN), as_role(Role.AUDITOR), as_role(Role.BIDDER)
    party = {"ref": "P1", "name": "Again", "kind": "company"}
    answers = [
        await _validated(client, schema, "GET", "/api/parties/{ref}", ref="NOPE", headers=admin),
        await _validated(client, schema, "GET", "/api/parties/{ref}", ref="P1"),
        await _validated(client, schema, "GET", "/api/parties/{ref}", ref="P1", headers=bidder),
        await _validated(client, schema, "POST", "/api/parties", headers=admin, json={"ref": "P1"}),
        await _validated(client, schema, "POST", "/api/parties", headers=admin, json=party),
        await _validated(client, schema, "GET", "/api/assets/{ref}/comparables", ref="A1", headers=auditor),
        await _validated(client, schema, "GET", "/api/coverage/loans", "?format=csv", headers=auditor),
        await _validated(client, schema, "GET", "/api/coverage/loans", "?format=parquet", headers=auditor),
        await _validated(client, schema, "GET", "/api/disposals/metrics", "?format=csv", headers=auditor),
    ]
    assert answers == [404, 401, 403, 422, 409, 409, 200, 200, 200]
    upload = await client.post(
        "/api/documents",
        headers=admin,
        data={"entity": "asset", "entity_ref": "A1"},
        files={"file": ("deed.pdf", b"%PDF-1.4 deed", "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    path = "/api/documents/{document_id}/content"
    assert await _validated(client, schema, "GET", path, document_id=upload.json()["id"], headers=auditor) == 200


async def test_the_document_states_the_forms_the_services_take(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    components = document["components"]["schemas"]
    party = components["PartyCreate"]
    assert party["additionalProperties"] is False
    assert party["properties"]["ref"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    assert "USD" in components["LoanCreate"]["properties"]["currency"]["enum"]
    assert components["PostingCreate"]["properties"]["principal"]["pattern"].startswith("^[0-9]")
    assert components["CaseOpen"]["properties"]["asset_refs"]["items"]["pattern"].startswith("^[A-Za-z0-9]")
    assert components["ExpenseIn"]["properties"]["document_ids"]["items"]["minimum"] == 1
    assert components["RegionQuery"]["properties"]["region"]["properties"]["type"]["enum"] == [
        "Polygon",
        "MultiPolygon",
    ]
    policy_kind = document["paths"]["/api/policies/{kind}"]["put"]["parameters"][0]["schema"]
    assert "real_estate" in policy_kind["enum"]
    not_found = document["paths"]["/api/parties/{ref}"]["get"]["responses"]["404"]["content"]
    assert list(not_found) == ["application/problem+json"]
