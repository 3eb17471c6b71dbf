"""Headless Chromium for the browser tests: Debian's chromium and chromium-driver, driven by Selenium.
The tests that use it fail, never skip, when the browser is missing: .ci/run installs it."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support import BROWSER


def chromium(user_agent: str | None = None) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=412,915"):  # a phone-sized window: the pages are mobile-first
        options.add_argument(arg)
    if user_agent:
        options.add_argument(f"--user-agent={user_agent}")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture
def browser() -> webdriver.Chrome:
    """Chromium as a person's browser (headless Chromium's own user agent is taken for a link scanner)."""
    driver = chromium(BROWSER["User-Agent"])
    yield driver
    driver.quit()
