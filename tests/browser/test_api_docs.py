"""The API documentation page works with no network beyond the service itself."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import UI_TIMEOUT_MS

pytestmark = pytest.mark.browser


async def test_swagger_ui_renders_the_operations_offline(page: Page, server_url: str) -> None:
    outside: list[str] = []

    async def only_the_service(route: Route) -> None:
        if route.request.url.startswith(server_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_service)
    await page.goto(f"{server_url}/schema/swagger")
    await expect(page.locator(".opblock-tag").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_text("/api/disposals", exact=True).first).to_be_attached(timeout=UI_TIMEOUT_MS)
    assert outside == []
