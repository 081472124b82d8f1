"""Whether a write carrying the session cookie came from another site. Pure: headers in, a reason out.

The order follows the Fetch Metadata guidance (and Go's net/http CrossOriginProtection): a browser that sends
`Sec-Fetch-Site: same-origin` (or `none`, typed by the user) is trusted outright, so a proxy that rewrites `Host`
does not lock out the site's own forms; otherwise `Origin` must be this site's or a configured one. A request with
neither header comes from no browser (scripts, curl), which another site cannot make carry the user's cookie.
"""

from __future__ import annotations

from collections.abc import Collection

from registry.edge_settings import normalise_origin

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


def own_origin(scheme: str, host: str | None) -> str | None:
    """The origin a request was addressed to, or None when its Host header names no origin."""
    if not host:
        return None
    try:
        return normalise_origin(f"{scheme}://{host}")
    except ValueError:
        return None


def cross_site_refusal(
    *,
    method: str,
    cookie_session: bool,
    origin: str | None,
    fetch_site: str | None,
    own: str | None,
    allowed: Collection[str],
) -> str | None:
    """Why this request must be refused as cross-site, or None to let it through. `cookie_session`: it is
    authenticated by the cookie alone (a bearer header is something another site cannot make a browser send)."""
    if method.upper() not in UNSAFE_METHODS or not cookie_session:
        return None
    fetch_site = fetch_site.strip().lower() if fetch_site is not None else None
    if fetch_site in TRUSTED_FETCH_SITES:
        return None
    if origin is not None:
        try:
            normalised = normalise_origin(origin)
        except ValueError:
            return f"a write from origin {origin!r} is refused: it is not this site"
        if normalised == own or normalised in allowed:
            return None
        return f"a write from origin {origin!r} is refused: it is not this site"
    if fetch_site is not None:
        return f"a {fetch_site} write is refused: it did not come from this site"
    return None
