"""Browser fixtures: one real server with the demo book, one headless Chromium, for the whole session.

The server is the shipped command (`collateral serve --demo`) on a free port with its own SQLite
file, so the pages are tested exactly as a person would reach them. Chromium is Debian's
/usr/bin/chromium; nothing is downloaded. Without it the browser tests are skipped with the
reason, except under CI=true, where they fail.

Playwright's async API runs on pytest-asyncio's session loop: the sync API would hold its own loop
open in this thread for the whole session and break every async test collected after it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HTMX = ROOT / "frontend" / "static" / "vendor" / "htmx.min.js"
# The demo loads before the server answers; on a busy 2-core machine that has taken over a minute.
SERVER_START_SECONDS = float(os.environ.get("COLLATERAL_BROWSER_SERVER_TIMEOUT", "240"))
# Expectations wait this long for an htmx swap or a navigation before failing.
UI_TIMEOUT_MS = 10_000


def demo_password(role: str) -> str:
    """registry.demo.loader creates one user per role, named after it, with this password."""
    return f"demo-{role}"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires it: {reason}")
    pytest.skip(reason)


def _serve_command(host: str, port: int) -> list[str]:
    script = Path(sys.executable).with_name("collateral")
    base = [str(script)] if script.exists() else [sys.executable, "-c", "from app import cli; cli()"]
    return [*base, "serve", "--demo", "--host", host, "--port", str(port)]


def _wait_for_health(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    with httpx.Client(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise RuntimeError(
        f"the server did not answer /health within {SERVER_START_SECONDS:.0f} s:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A plain (sync) fixture: starting and stopping a process needs no event loop.
    if not HTMX.is_file():
        pytest.fail(f"{HTMX.relative_to(ROOT)} is missing: run scripts/setup (npm ci, then python -m frontend.vendor)")
    tmp = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'b.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp / "data"),
        "COLLATERAL_SECRET_KEY": "browser-test-secret-key-of-32-bytes-or-more",
        # Every test signs in through the form; the production limit would throttle the suite.
        "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
        # The virtualenv's editable install points at one checkout; serve this one's code, whichever worktree runs.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _serve_command("127.0.0.1", port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_health(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Browser, server_url: str) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=server_url)
    ctx.set_default_timeout(UI_TIMEOUT_MS)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    expect.set_options(timeout=UI_TIMEOUT_MS)
    return await context.new_page()


async def sign_in(page: Page, role: str) -> None:
    """Sign in through the form, as a person would, and wait for the landing page."""
    if not re.search(r"/login(\?|$)", page.url):
        await page.goto("/login")
    await page.get_by_label("Username").fill(role)
    await page.get_by_label("Password").fill(demo_password(role))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
