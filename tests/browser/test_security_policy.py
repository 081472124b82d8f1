"""The pages under the Content-Security-Policy in Chromium: nothing they load or run is blocked, and a real
browser's same-origin form posts and fetches pass the cross-site check (it sends Origin and Sec-Fetch-Site)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

# Recorded by the page itself: a violation report is an event on the document.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e =>
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""

PAGES = [
    "/home",
    "/assets",
    "/overlaps",
    "/parcels/map",
    "/valuations",
    "/coverage/loans",
    "/coverage/stress",
    "/coverage/what-if",
    "/disposals",
    "/disposals/metrics",
    "/disposals/DC-2026-003",
    "/public/auctions",
]


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__violations")
    return found


async def test_no_page_breaks_the_content_security_policy(page: Page, tmp_path: Path) -> None:
    await page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto("/login")
    await sign_in(page, "admin")
    for path in PAGES:
        response = await page.goto(path)
        assert response is not None and response.ok, path
        assert "script-src 'self'" in (await response.header_value("content-security-policy") or "")
        await page.wait_for_load_state("networkidle")
        assert await violations(page) == [], path
        await page.screenshot(path=tmp_path / (path.strip("/").replace("/", "-") + ".png"), full_page=True)
    assert console == []
    # Charts drew under the policy (Chart.js sets canvas sizes through the style object, which CSP allows).
    await page.goto("/disposals/metrics")
    await expect(page.locator("canvas").first).to_be_visible()
    assert await violations(page) == []


async def test_a_real_browser_posts_the_sites_own_forms(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url(lambda url: "/login" in url)
    # The logout went through the cross-site check (Chromium sent Origin and Sec-Fetch-Site: same-origin) and
    # revoked the session: the pages ask to sign in again.
    await page.goto("/home")
    await expect(page).to_have_url(re.compile(r"/login"))
