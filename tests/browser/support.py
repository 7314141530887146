"""Shared by the browser tests: Debian's chromium under Playwright, an accessibility check
with axe-core (shipped by the axe-playwright-python package), screenshots for the docs."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: set PAYGATE_SCREENSHOTS=1 to refresh docs/screenshots from a test run
TAKE_SCREENSHOTS = os.environ.get("PAYGATE_SCREENSHOTS") == "1"


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("chromium is not installed (apt-get install chromium); CI must run browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            await b.close()


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical violations axe-core finds on the page (WCAG A/AA rules)."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa"]})
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


async def screenshot(page: Any, name: str) -> None:
    if TAKE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
