"""Which cookie-carrying writes are cross-site (registry.cross_site), and how origins are read."""

from __future__ import annotations

import pytest

from registry.cross_site import cross_site_refusal, own_origin
from registry.edge_settings import normalise_origin

pytestmark = pytest.mark.unit

OWN = "https://registry.bank.example"


def refusal(**overrides: object) -> str | None:
    args: dict[str, object] = {
        "method": "POST",
        "cookie_session": True,
        "origin": None,
        "fetch_site": None,
        "own": OWN,
        "allowed": frozenset(),
    }
    args.update(overrides)
    return cross_site_refusal(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_a_write_from_another_origin_with_the_cookie_is_refused(method: str) -> None:
    reason = refusal(method=method, origin="https://evil.example")
    assert reason is not None and "https://evil.example" in reason


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "https://registry.bank.example.evil.example",
        "http://registry.bank.example",
        "https://registry.bank.example:8443",
    ],
)
def test_lookalike_origins_are_other_sites(origin: str) -> None:
    assert refusal(origin=origin) is not None


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site", "CROSS-SITE"])
def test_fetch_metadata_alone_refuses_a_write_from_elsewhere(fetch_site: str) -> None:
    assert refusal(fetch_site=fetch_site) is not None


def test_same_origin_writes_pass() -> None:
    assert refusal(origin="https://registry.bank.example") is None
    assert refusal(origin="https://REGISTRY.bank.example:443") is None
    assert refusal(fetch_site="same-origin") is None
    assert refusal(fetch_site="none") is None
    # A proxy that rewrites Host makes our own origin unknown; the browser's same-origin verdict still holds.
    assert refusal(own=None, origin="https://registry.bank.example", fetch_site="same-origin") is None


def test_a_configured_origin_may_write_even_when_the_browser_calls_it_cross_site() -> None:
    allowed = frozenset({"https://portal.bank.example"})
    assert refusal(origin="https://portal.bank.example", fetch_site="cross-site", allowed=allowed) is None
    assert refusal(origin="https://other.bank.example", fetch_site="same-site", allowed=allowed) is not None


def test_reads_bearer_requests_and_non_browser_clients_are_not_affected() -> None:
    assert refusal(method="GET", origin="https://evil.example") is None
    assert refusal(method="OPTIONS", fetch_site="cross-site") is None
    assert refusal(cookie_session=False, origin="https://evil.example") is None
    assert refusal() is None  # no Origin and no Sec-Fetch-Site: no browser made this request


def test_origins_are_normalised_as_browsers_send_them() -> None:
    assert normalise_origin("HTTPS://Bank.Example:443/") == "https://bank.example"
    assert normalise_origin("http://bank.example:8080") == "http://bank.example:8080"
    assert own_origin("https", "bank.example:443") == "https://bank.example"
    assert own_origin("http", None) is None
    assert own_origin("http", "bad host name") is None
    with pytest.raises(ValueError, match="not an origin"):
        normalise_origin("ftp://bank.example")
