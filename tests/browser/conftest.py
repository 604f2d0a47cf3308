"""Headless Chromium for the browser tests: one executable per module, a fresh browser per test; when
Chromium cannot be found or installed the tests say why they skip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.cdp import Browser, ensure_chromium


@pytest.fixture(scope="module")
def chromium() -> str:
    path, reason = ensure_chromium()
    if path is None:
        pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")
    return path


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    b = Browser(chromium)
    yield b
    b.close()
